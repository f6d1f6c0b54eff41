"""A container's create from an Engine API body: the body checked, ``VolumesFrom`` resolved, the image looked up
and the body converted to a spec, volumes taken, the service's create, all in one worker-thread hop while the loop
makes the network's sandbox; then the engine's record saved and the create event published. A failure anywhere
leaves nothing: volumes released, the reservation undone, the sandbox removed."""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import secrets
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime import trace
from runtime.daemon.bodycheck import check_create_body
from runtime.daemon.container_volumes import prepare_volumes, rehome_volumes, release_volumes
from runtime.daemon.records import NAME_RE, now_rfc3339
from runtime.daemon.specconv import convert, network_of
from runtime.errors import EngineError, InvalidArgument
from runtime.health import HealthConfig
from runtime.spec import Ulimit

if TYPE_CHECKING:
    from runtime.daemon.app import Engine

__all__ = ["ContainerCreator"]


class ContainerCreator:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.svc = engine.containers
        self.records = engine.records

    def _defaults(self) -> dict[str, Any]:
        cfg = self.engine.config
        return {"ulimits": [Ulimit(u.name, u.soft, u.hard) for u in cfg.default_ulimits],
                "log_opts": dict(cfg.log_opts), "cgroup_parent": ""}

    async def create(self, body: dict[str, Any], name: str | None, platform: str | None = None) -> dict[str, Any]:
        check_create_body(body)
        body = self._volumes_from(body)
        image_ref = body.get("Image")
        if not image_ref or not isinstance(image_ref, str):
            raise InvalidArgument("config: Image is required")
        trace.mark("create.checked")
        holder = f"creating-{secrets.token_hex(8)}"  # volumes are taken before the container has an id
        nets = self.engine.networks
        net_rec: dict[str, Any] = {}
        sandboxing: asyncio.Future[str] | None = None
        if nets is not None:
            with contextlib.suppress(EngineError):  # (else convert refuses the body, in its turn)
                mode, endpoints = network_of(body)
                net_rec.update({"NetworkMode": mode, "Endpoints": endpoints})
                # the network's sandbox is made while the image is looked up and the body converted
                sandboxing = asyncio.ensure_future(nets.sandbox_for_create(net_rec))
        loop = asyncio.get_running_loop()
        netns: concurrent.futures.Future[str | None] = concurrent.futures.Future()
        if nets is None:
            netns.set_result(None)

        def make() -> tuple[Any, Any, list[str], list[dict[str, Any]], Any, Any]:
            """One worker-thread hop: the image looked up, the body converted, volumes taken, then the service's
            checks, the name, the state dir and managed files while the loop makes the network's sandbox, whose
            path the config waits for (``_build``). Volumes taken are released again on any failure here."""
            image = self.engine.images.resolve(image_ref)
            trace.mark("create.image")
            if name is not None and name != "" and not NAME_RE.match(name.lstrip("/")):
                raise InvalidArgument(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
            conv = convert(body, image.config, container_id="", image=image.id, defaults=self._defaults())
            trace.mark("create.converted")
            mounts, uses, inspect_mounts = prepare_volumes(self.engine.volumes, conv, image, holder, self.engine.images)
            try:
                spec = replace(conv.spec, mounts=conv.spec.mounts + tuple(mounts), image=image.id)
                trace.mark("create.volumes")
                if nets is not None and not net_rec:  # network_of refused what convert took: the sandbox now
                    net_rec.update({"NetworkMode": conv.network_mode, "Endpoints": conv.endpoints})
                    made = asyncio.run_coroutine_threadsafe(nets.sandbox_for_create(net_rec), loop)
                    try:
                        netns.set_result(made.result())
                    except BaseException as err:
                        netns.set_exception(err)
                if nets is not None and nets.uses_embedded_dns(net_rec):
                    spec = replace(spec, resolv_conf=nets.resolv_conf(net_rec, body.get("HostConfig") or {}))
                st = self._build(name, spec, image, netns)
            except BaseException:
                release_volumes(self.engine.volumes, holder, uses)
                raise
            return image, conv, uses, inspect_mounts, spec, st

        building = asyncio.ensure_future(asyncio.to_thread(make))
        try:
            if sandboxing is not None:
                try:
                    path = await sandboxing
                    trace.mark("create.sandbox")
                except BaseException as err:
                    netns.set_exception(err)  # the build undoes its part and ends
                    raise
                netns.set_result(path)
            image, conv, uses, inspect_mounts, spec, st = await building
            cid = st.id
            trace.mark("create.svc", cid)
        except BaseException:
            for pending in (building, sandboxing):  # (the worker released its volumes)
                if pending is not None:
                    with contextlib.suppress(BaseException):
                        await pending
            await self._drop_sandbox(net_rec)
            raise
        if uses:  # volumes were taken under a provisional holder: hand them to the container
            await asyncio.to_thread(rehome_volumes, self.engine.volumes, uses, holder, cid)
        trace.mark("create.rehomed", cid)
        config = dict(conv.config)
        config["Hostname"] = config["Hostname"] or cid[:12]
        config["Image"] = image_ref
        inspect_mounts += [{"Type": "bind", "Source": m.source, "Destination": m.target, "Mode": "",
                            "RW": not m.read_only, "Propagation": m.propagation or "rprivate"}
                           for m in conv.spec.mounts if m.type == "bind"]
        state_dir = Path(st.state_dir)
        rec = {
            "Id": cid, "Name": "/" + st.name, "Created": st.created or now_rfc3339(),
            "Path": spec.args[0], "Args": list(spec.args[1:]), "ImageID": image.id, "Config": config,
            "HostConfig": conv.host_config, "Exposed": conv.exposed, "Mounts": inspect_mounts,
            "VolumeNames": [u for u in uses], "Networks": {}, "RestartCount": 0, "ManuallyStopped": False,
            "AutoRemove": conv.auto_remove, "Restart": conv.restart, "Healthcheck": conv.healthcheck,
            "Health": {"Status": "starting", "FailingStreak": 0, "Log": []} if
            HealthConfig.from_api(conv.healthcheck) else None,
            "LastStatus": "created", "LogPath": str(st.log_path), "HostnamePath": str(state_dir / "hostname"),
            "HostsPath": str(state_dir / "hosts"), "ResolvConfPath": str(state_dir / "resolv.conf"),
            "Ports": [p.__dict__ for p in conv.ports], "ExecIDs": [], **net_rec,
        }
        if nets is not None:
            nets.refresh(rec, running=False)
        trace.mark("create.refreshed", cid)
        self.records.save(rec)
        trace.mark("create.saved", cid)
        self.engine.publish_container(rec, "create")
        trace.mark("create.published", cid)
        return rec

    async def _drop_sandbox(self, net_rec: dict[str, Any]) -> None:
        """A create failed: remove the network sandbox made for it (not one it shares with another container)."""
        nets = self.engine.networks
        if nets is not None and net_rec.get("SandboxKeyName") and not net_rec.get("SandboxShared"):
            with contextlib.suppress(EngineError, OSError):
                await asyncio.to_thread(nets.svc.destroy_sandbox, net_rec["SandboxKeyName"])

    def _build(self, name: str | None, spec: Any, image: Any,
               netns: concurrent.futures.Future[str | None]) -> Any:
        """In a worker thread: the service's create, around the sandbox made on the loop meanwhile (``netns``: its
        path, None without networking; an exception calls the create off). A bad spec or a taken name fails
        before the sandbox is waited for; whatever was reserved is released on any failure."""
        self.svc.check(spec)
        reserved = self.svc.reserve(name, spec)
        trace.mark("create.reserved", reserved[0])
        try:
            path = netns.result()
        except BaseException:
            self.svc.unreserve(*reserved)
            raise
        built = spec if path is None else replace(spec, netns_path=path)
        return self.svc.create_container(name, built, image=image, reserved=reserved, checked=True)

    def _volumes_from(self, body: dict[str, Any]) -> dict[str, Any]:
        """``HostConfig.VolumesFrom`` (``container[:ro|rw]``) as the binds of that container's volumes and binds;
        the new container's own mounts win at the same path."""
        host = dict(body.get("HostConfig") or {})
        if not host.get("VolumesFrom"):
            return body
        own = {b.split(":")[1] if ":" in b else b for b in host.get("Binds") or []}
        own |= {m.get("Target") for m in host.get("Mounts") or []}
        extra = []
        for item in host["VolumesFrom"]:
            ref, _, mode = item.partition(":")
            if mode not in ("", "ro", "rw"):
                raise InvalidArgument(f"invalid mode for volumes-from: {item!r}")
            other = self.records.find(ref)
            for m in other.get("Mounts", []):
                src = m.get("Name") if m.get("Type") == "volume" else m.get("Source")
                if m.get("Type") not in ("volume", "bind") or not src or m["Destination"] in own:
                    continue
                read_only = mode == "ro" or (mode == "" and not m.get("RW", True))
                extra.append(f"{src}:{m['Destination']}" + (":ro" if read_only else ""))
                own.add(m["Destination"])
        host["Binds"] = list(host.get("Binds") or []) + extra
        return {**body, "HostConfig": host}
