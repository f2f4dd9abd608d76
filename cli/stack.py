"""`yijianshi stack`: the production shape on one machine, for trying it out and for load and fault
tests — a throwaway PostgreSQL cluster, the schema upgraded, processes deployed, the demo accounts,
gunicorn with several sync workers (web/wsgi.py; no scheduler in any web worker), and two
`yijianshi scheduler` processes (one active, one standby, by the lease in the database).

`Stack` is also what bench/soak.py and the soak test drive: it knows the PIDs of the gunicorn
workers and which scheduler holds the lease, so a test can kill -9 either and watch the system
recover. Everything runs from this checkout's virtualenv; Ctrl-C stops it all and removes the
cluster."""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(port: int) -> bool:
    """The web app answers and reaches its database (the scheduler's liveness, which /healthz also
    reports, is not the web workers' business: schedulers may start after them, or not at all)."""
    import http.client
    import json

    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        body = response.read()
        conn.close()
    except OSError:
        return False
    if response.status == 200:
        return True
    try:
        return response.status == 503 and json.loads(body).get("database") == "ok"
    except ValueError:
        return False


def start_gunicorn(url: str, workers: int, home: Path, *, port: int = 0, host: str = "127.0.0.1",
                   threads: int = 1, config: str | None = None, secret_key: str | None = None,
                   log: Path | None = None) -> tuple[subprocess.Popen, int]:
    """gunicorn serving yijianshi.web.wsgi:app, configured by the environment as in a deployment; waits
    until /healthz answers. Returns the master process and the port."""
    port = port or free_port()
    env = dict(os.environ, YIJIANSHI_DATABASE_URL=url, YIJIANSHI_HOME=str(home),
               YIJIANSHI_UPLOADS=str(home / "uploads"),
               YIJIANSHI_SECRET_KEY=secret_key or secrets.token_hex(32))
    options = ["-w", str(workers), "-b", f"{host}:{port}", "--log-level", "warning",
               "--graceful-timeout", "10"]
    if threads > 1:
        options += ["-k", "gthread", "--threads", str(threads)]
    if config:
        options += ["-c", config]
    out = open(log, "ab") if log else None
    server = subprocess.Popen([str(BIN / "gunicorn"), *options, "yijianshi.web.wsgi:app"], cwd=ROOT, env=env,
                              start_new_session=True, stdout=out, stderr=out)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        if _healthy(port):
            return server, port
        time.sleep(0.2)
    stop_process(server)
    raise RuntimeError(f"gunicorn did not start within 60 s{f' (see {log})' if log else ''}")


def stop_process(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM the process group a process leads; SIGKILL it if it does not end in time."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def children_of(pid: int) -> list[int]:
    """PIDs of the live child processes of `pid` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return sorted(found)


class Stack:
    """PostgreSQL + gunicorn + two schedulers, started and stopped together."""

    def __init__(self, *, workers: int = 3, schedulers: int = 2, lease_ttl: float = 5.0, port: int = 0,
                 host: str = "127.0.0.1", deploy: list[Path] | None = None, url: str | None = None,
                 home: Path | None = None):
        self.workers = workers
        self.scheduler_count = schedulers
        self.lease_ttl = lease_ttl
        self.host = host
        self.port = port
        self.deploy_paths = deploy if deploy is not None else [ROOT / "processes"]
        self.url = url
        self.cluster = None
        self._own_home = home is None
        self.home = home or Path(tempfile.mkdtemp(prefix="yjs-stack-"))
        self.secret_key = secrets.token_hex(32)
        self.gunicorn: subprocess.Popen | None = None
        self.schedulers: list[subprocess.Popen] = []
        self.deployed: list = []
        self.seeded: list = []
        self._lock = threading.Lock()

    # -- life cycle ------------------------------------------------------------------------------

    @property
    def settings(self):
        """The settings every process of the stack runs with (they get them as environment variables)."""
        from yijianshi.engine.settings import Settings

        return Settings.at(self.home, self.url, secret_key=self.secret_key)

    def start(self) -> "Stack":
        from yijianshi.engine.composition import System

        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        try:
            if self.url is None:
                from yijianshi.storage.throwaway_postgres import ThrowawayCluster

                self.cluster = ThrowawayCluster().start()
                self.url = self.cluster.create_database("yijianshi")
            from yijianshi.engine.access.org_seed import seed_organisation

            system = System.build(self.settings)
            system.db.upgrade()  # yijianshi db upgrade
            system.engine.calendar.seed_bundled()
            self.deployed = system.engine.deploy(self.deploy_paths)  # yijianshi deploy processes/
            self.seeded = system.accounts.seed_demo()
            seed_organisation(system.db)  # the registry's departments and the demo district
            system.close()
            self.gunicorn, self.port = start_gunicorn(
                self.url, self.workers, self.home, port=self.port, host=self.host, secret_key=self.secret_key,
                log=self.home / "logs" / "gunicorn.log")
            for _ in range(self.scheduler_count):
                self.schedulers.append(self._start_scheduler())
            self.wait_for_active_scheduler()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_scheduler(self) -> subprocess.Popen:
        n = len(self.schedulers)
        log = open(self.home / "logs" / f"scheduler-{n}.log", "ab")
        env = dict(os.environ, YIJIANSHI_DATABASE_URL=self.url, YIJIANSHI_HOME=str(self.home))
        return subprocess.Popen([str(BIN / "yijianshi"), "scheduler", "--lease-ttl", str(self.lease_ttl)],
                                cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)

    def stop_services(self) -> None:
        """Stop the schedulers and gunicorn; the database stays (for audits)."""
        for proc in self.schedulers:
            stop_process(proc)
        if self.gunicorn is not None:
            stop_process(self.gunicorn)

    def stop(self) -> None:
        self.stop_services()
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None
        if self._own_home:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what runs -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def worker_pids(self) -> list[int]:
        return children_of(self.gunicorn.pid) if self.gunicorn else []

    def scheduler_pids(self) -> list[int]:
        return [p.pid for p in self.schedulers if p.poll() is None]

    def lease(self) -> tuple[int | None, datetime | None]:
        """(PID of the scheduler holding the lease, when the lease expires)."""
        from yijianshi.engine.deadlines.lease import LEASE_NAME
        from yijianshi.storage import deadline_store
        from yijianshi.storage.database import Database

        db = Database(self.url, pool_size=1)
        try:
            with db.reader.connect() as conn:
                row = deadline_store.holder_of(conn, LEASE_NAME)
        finally:
            db.dispose()
        if row is None:
            return None, None
        return int(row.holder.split(":")[1]), row.expires_at

    def active_scheduler_pid(self) -> int | None:
        pid, expires = self.lease()
        if pid is None or expires is None or expires <= datetime.now(timezone.utc):
            return None
        return pid

    def wait_for_active_scheduler(self, timeout: float = 30, not_pid: int | None = None) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.active_scheduler_pid()
            if pid is not None and pid != not_pid and pid in self.scheduler_pids():
                return pid
            time.sleep(0.2)
        raise RuntimeError(f"no scheduler became active within {timeout:.0f} s")

    # -- faults ----------------------------------------------------------------------------------

    def kill_worker(self) -> int:
        """kill -9 one gunicorn worker (the master starts a new one)."""
        pids = self.worker_pids()
        if not pids:
            raise RuntimeError("gunicorn has no worker to kill")
        victim = pids[secrets.randbelow(len(pids))]
        os.kill(victim, signal.SIGKILL)
        return victim

    def kill_active_scheduler(self) -> int:
        """kill -9 the scheduler holding the lease, and start a new standby in its place (as a
        service manager with Restart=always would)."""
        pid = self.wait_for_active_scheduler()
        os.kill(pid, signal.SIGKILL)
        with self._lock:
            for i, proc in enumerate(self.schedulers):
                if proc.pid == pid:
                    proc.wait()
                    self.schedulers[i] = self._start_scheduler()
        return pid

    def describe(self) -> list[str]:
        from yijianshi.engine.access.accounts import seeded_lines

        lines = [f"网页服务：{self.base_url}（gunicorn 主进程 {self.gunicorn.pid}，"
                 f"{self.workers} 个工作进程 {self.worker_pids()}）",
                 f"期限调度器进程：{self.scheduler_pids()}（主：{self.active_scheduler_pid()}）",
                 f"数据库：{self.url}",
                 f"日志与上传目录：{self.home}",
                 "演示账号（用户名 / 密码 / 角色 / 部门 / 名称）："]
        lines += seeded_lines(self.seeded)
        return lines


# -- the command ---------------------------------------------------------------------------------

def add_stack_parser(sub) -> None:
    p = sub.add_parser("stack", help="在本机启动生产形态：临时 PostgreSQL + gunicorn 多进程 + 两个期限调度器（Ctrl-C 全部停止）")
    p.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2 + 1, help="gunicorn 工作进程数")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--lease-ttl", type=float, default=5.0, help="主调度器失联多少秒后由备用接管")
    p.add_argument("--processes", action="append", help="要部署的流程目录或文件（默认：项目的 processes/）")
    p.set_defaults(func=cmd_stack)


def cmd_stack(args) -> int:
    paths = [Path(p) for p in args.processes] if args.processes else None
    stack = Stack(workers=args.workers, lease_ttl=args.lease_ttl, port=args.port, host=args.host,
                  deploy=paths, url=args.db)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print("正在启动：临时 PostgreSQL、数据库结构、流程部署、gunicorn、两个期限调度器……", flush=True)
    stack.start()
    try:
        for line in stack.describe():
            print(line)
        print("按 Ctrl-C 停止全部进程并删除临时数据库。", flush=True)
        while not stop.wait(1.0):
            if stack.gunicorn.poll() is not None:
                print("gunicorn 已退出，正在停止。", file=sys.stderr)
                return 1
    finally:
        stack.stop()
        print("已全部停止。")
    return 0
