"""Image builds from Dockerfiles: parsing, variable substitution, .dockerignore, and the builder."""
