"""dockbot: answers Docker/Kubernetes questions asked in Korean and runs live Docker demos."""

__version__ = "0.1.0"
