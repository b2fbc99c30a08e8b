"""``python -m proxy`` / ``llm-gateway``: run the gateway.

    python -m proxy [--config settings.yaml] [--host H] [--port P] [--workers N]
    python -m proxy spend [--group-by key|team|model|provider] [--from D] [--to D]
    python -m proxy budgets rebuild

With ``--workers N`` > 1, N processes share the port through SO_REUSEPORT; the parent only
supervises them (restarts a crashed worker, forwards SIGTERM for a graceful drain).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import sys
import time
from multiprocessing.connection import wait

import msgspec
from aiohttp import web

from proxy import __version__
from proxy.gctune import tune_after_startup
from proxy.logsetup import configure_logging, flush_logs
from proxy.observability import multiproc
from proxy.pipeline import SettingsError
from proxy.settings import DEFAULT_SETTINGS_ENV, Settings, load_settings


def _use_uvloop() -> bool:
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def raise_open_files() -> tuple[int, int]:
    """Lift the soft limit on open files to the hard one and return (soft, hard).

    Every open stream holds two descriptors (the client's connection and the upstream's):
    10,000 streams need 20,000 and more, while a soft limit is often 1,024 (the hard one is
    usually far above). Raising the soft limit up to the hard one needs no privilege."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):  # e.g. above fs.nr_open: keep what we have
            pass
    return soft, hard


def serve(settings: Settings, reuse_port: bool = False) -> None:
    """Run one server process until SIGINT/SIGTERM."""
    raise_open_files()
    configure_logging(settings.logging)
    uv = _use_uvloop()
    try:
        asyncio.run(_serve(settings, reuse_port, uv))
    finally:
        flush_logs()


async def _serve(settings: Settings, reuse_port: bool, uv: bool) -> None:
    """Serve until a signal; on SIGTERM fail readiness first, then close and drain.

    The order a rolling deploy needs: ``/ready`` turns 503 at once and the listener keeps
    serving for ``server.drain_delay`` seconds (load balancers see the 503 and stop
    sending), then the listener closes and in-flight requests and streams get
    ``server.shutdown_timeout`` to finish. SIGINT (Ctrl-C) skips the delay.
    """
    import structlog

    from proxy.app import GATEWAY, create_app

    app = create_app(settings)
    runner = web.AppRunner(
        app,
        access_log=None,
        handler_cancellation=True,  # a client that hangs up cancels its upstream call
        shutdown_timeout=settings.server.shutdown_timeout,
    )
    await runner.setup()
    s = settings.server
    # the accept queue absorbs a burst of connects while the loop is busy (capped by the
    # kernel's net.core.somaxconn)
    site = web.TCPSite(runner, s.host, s.port, reuse_port=reuse_port or None, backlog=4096)
    log = structlog.get_logger("gateway")
    loop = asyncio.get_running_loop()
    got: asyncio.Future[int] = loop.create_future()

    def on_signal(n: int) -> None:
        if not got.done():
            got.set_result(n)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, int(sig))
    try:
        await site.start()
        tune_after_startup(s.gc_threshold)
        log.info(
            "starting",
            version=__version__,
            host=s.host,
            port=s.port,
            pid=os.getpid(),
            uvloop=uv,
            open_files=raise_open_files()[0],
        )
        received = await got
        app[GATEWAY].ready = False
        if received == signal.SIGTERM and s.drain_delay > 0:
            log.info("draining: not ready, still serving", seconds=s.drain_delay)
            await asyncio.sleep(s.drain_delay)
    finally:
        await runner.cleanup()


async def check(settings: Settings) -> None:
    """Build the app and run its start-up and shut-down hooks without serving: every
    middleware's options and the configs it validates at start-up (guardrails) are checked."""
    from proxy.app import create_app

    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    await runner.cleanup()


def supervise(settings: Settings) -> int:
    ctx = multiprocessing.get_context("fork")
    n = settings.server.workers
    procs: dict[int, multiprocessing.process.BaseProcess] = {}
    stopping = False

    def start(slot: int) -> None:
        p = ctx.Process(target=serve, args=(settings, True), name=f"gateway-worker-{slot}")
        p.start()
        procs[slot] = p

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for p in procs.values():
            if p.pid and p.is_alive():
                os.kill(p.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if settings.observability.metrics:
        multiproc.prepare()  # before forking: the workers share one metrics directory
    for slot in range(n):
        start(slot)
    last_restart = 0.0
    while procs:
        wait([p.sentinel for p in procs.values()], timeout=1.0)
        for slot, p in list(procs.items()):
            if p.is_alive():
                continue
            del procs[slot]
            multiproc.worker_exited(p.pid)
            if not stopping:
                # a crashed worker is replaced, at most once a second
                time.sleep(max(0.0, 1.0 - (time.monotonic() - last_restart)))
                last_restart = time.monotonic()
                start(slot)
    return 0


def dev_defaults(settings: Settings, config: str | None) -> Settings:
    """No settings file at all is the local dev proxy: its console is on (GATEWAY_CONSOLE=0
    turns it off). A settings file opts in with ``console.enabled``."""
    if config or os.environ.get(DEFAULT_SETTINGS_ENV) or "GATEWAY_CONSOLE" in os.environ:
        return settings
    console = msgspec.structs.replace(settings.console, enabled=True)
    return msgspec.structs.replace(settings, console=console)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="llm-gateway", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", "-c", help="settings file (YAML/JSON); env GATEWAY_SETTINGS")
    ap.add_argument("--host", help="bind address (default 0.0.0.0)")
    ap.add_argument("--port", "-p", type=int, help="port (default 8787)")
    ap.add_argument("--workers", "-w", type=int, help="processes sharing the port")
    ap.add_argument("--check", action="store_true", help="validate the settings and exit")
    ap.add_argument("--version", action="version", version=__version__)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("spend", "budgets"):  # the ledger's commands (docs/keys.md)
        from proxy.ledger.cli import main as ledger_main

        return ledger_main(argv)
    args = parse_args(argv)
    try:
        settings = dev_defaults(load_settings(args.config), args.config)
        server = settings.server
        settings = msgspec.structs.replace(
            settings,
            server=msgspec.structs.replace(
                server,
                host=args.host if args.host is not None else server.host,
                port=args.port if args.port is not None else server.port,
                workers=args.workers if args.workers is not None else server.workers,
            ),
        )
        if args.check:
            asyncio.run(check(settings))
            print("settings OK")
            return 0
        if settings.server.workers > 1:
            return supervise(settings)
        serve(settings)
        return 0
    except SettingsError as exc:
        print(f"invalid settings: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
