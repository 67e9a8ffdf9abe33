"""extframe: build, load, run and register custom Open vSwitch actions in eBPF."""

__version__ = "0.1.0"
