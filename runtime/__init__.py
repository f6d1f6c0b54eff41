"""pycompose engine: images, containers, networks, volumes, daemon. Never reads YAML."""
