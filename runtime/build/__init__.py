"""Image builds from Dockerfiles: parsing, variable substitution, .dockerignore, and the builder.

Public surface::

    from runtime.build.builder import Builder, BuildOptions
    from runtime.build.context import BuildContext

    builder = Builder(image_store, container_service, data_root / "build", pull=lambda ref: ...)
    with BuildContext(directory, "Dockerfile") as ctx:         # or BuildContext.from_tar(stream, scratch_dir)
        image = builder.build(ctx, BuildOptions(tags=["app:1"]), emit=print_text)

Modules: ``dockerfile`` (parser), ``substitution`` (``${VAR:-x}``), ``dockerignore``, ``context``, ``state`` (the
image between steps), ``cache`` (content-addressed steps), ``metadata`` (config-only instructions), ``copy``
(COPY/ADD), ``run`` (RUN in a container of our runtime), ``view`` (read-only merged layers), ``steps``, ``builder``.
"""
