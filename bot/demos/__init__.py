"""Live Docker demos: scenarios as YAML data and a locked-down runner on the docker SDK."""
