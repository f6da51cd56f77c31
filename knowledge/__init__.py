"""The starter knowledge, shipped inside the dockbot wheel as the package data of `bot.starter_knowledge`.

This file only makes the directory an import package so importlib.resources finds it in every install mode
(regular and editable); the content is the YAML beside it. See bot/config.py (DOCKBOT_KNOWLEDGE_DIR).
"""
