"""routesim: scenario simulator for energy-route dependencies."""
__version__ = "0.1.0"
