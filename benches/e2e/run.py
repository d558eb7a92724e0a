#!/usr/bin/env python3
"""End-to-end bench: sluice gateway versus nginx and HAProxy, side by side, as ratios.

Each proxy runs one worker pinned to core 1 (`taskset -c 1`); the load generator and the
origin (nginx answering a fixed 200) share core 0. Scenarios run interleaved for several
rounds; each proxy's CPU time (utime + stime of all its processes and threads, from
/proc/<pid>/stat) is read before and after every run, giving CPU microseconds per request.
Everything listens on 127.0.0.1 on free ports; every started process is stopped by its pid.
`rate` sends every proxy the same fixed request rate (oha, open loop, latency from each
request's intended send time); `swaps` reads the gateway's RSS over thousands of route changes.
`--floor` adds two floors (`benches/e2e/floor/`): a minimal HTTP/1.1 proxy on tokio with a
hand-written codec (`floor`) and the same on hyper's connections (`floor-hyper`), run in the
scenarios they serve (keepalive, newconn, rate): the least CPU a proxy on our runtime, and on
our HTTP library, spends here.

Usage: benches/e2e/run.sh [--rounds N] [--quick] [--duration S] [--only SCENARIO,...]
       benches/e2e/run.sh --only rate [--rate RPS] [--rate-conns N]
       benches/e2e/run.sh --only swaps [--swaps N] [--swap-hosts N]
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import http.client
import http.server
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import configs  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLK_TCK = os.sysconf("SC_CLK_TCK")
PROXY_CORE = "1"
LOAD_CORE = "0"
PROXIES = ["sluice", "nginx", "haproxy"]
SCENARIOS = ["keepalive", "newconn", "h2c", "tls", "hosts10k", "rate"]
CLOSED_LOOP = ["keepalive", "newconn", "h2c", "tls", "hosts10k"]
FLOORS = ["floor", "floor-hyper"]  # `--floor`: measuring sticks, not products
FLOOR_SCENARIOS = ["keepalive", "newconn", "rate"]  # plain HTTP/1.1, one route: all they serve
OHA_VERSION = "1.16.0"
STARTED = []  # every Popen we started, stopped by pid at exit


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- setup


def ensure_tools(skip_install, need_oha):
    """Installs nginx, HAProxy, wrk and h2load from Debian packages when missing, and oha (the
    fixed-rate load generator, not packaged in Debian) with `cargo install` when `need_oha`."""
    wanted = {"nginx": "nginx-light", "haproxy": "haproxy", "wrk": "wrk", "h2load": "nghttp2-client",
              "openssl": "openssl", "taskset": "util-linux"}
    missing = sorted({pkg for tool, pkg in wanted.items() if shutil.which(tool) is None})
    no_oha = need_oha and oha_binary() is None
    if skip_install and (missing or no_oha):
        sys.exit(f"missing tools: {missing + (['oha'] if no_oha else [])} "
                 "(run without --no-install or install them)")
    if missing:
        log(f"installing {' '.join(missing)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)
    if no_oha:
        if shutil.which("cargo") is None:
            sys.exit("oha is missing and there is no cargo to install it with")
        log(f"installing oha {OHA_VERSION} with cargo install (compiles it: a few minutes)")
        subprocess.run(["cargo", "install", "oha", "--locked", "--version", OHA_VERSION],
                       check=True)


def oha_binary():
    """oha on PATH or in cargo's bin directory, or None."""
    cargo_bin = os.path.join(os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo")),
                             "bin", "oha")
    return shutil.which("oha") or (cargo_bin if os.access(cargo_bin, os.X_OK) else None)


def build_sluice(skip_build):
    binary = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")),
                          "release", "sluice")
    if not skip_build:
        log("building sluice (release)")
        subprocess.run(["cargo", "build", "--release", "--bin", "sluice"], cwd=ROOT, check=True)
    if not os.path.exists(binary) and not skip_build:
        sys.exit(f"no sluice binary at {binary}")
    return binary


def build_floors(skip_build):
    """The floor proxies by name, built in their own target directory (not workspace members)."""
    target = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "floor")
    if not skip_build:
        log("building the floor (release)")
        subprocess.run(["cargo", "build", "--release", "--locked", "--manifest-path",
                        os.path.join(ROOT, "benches", "e2e", "floor", "Cargo.toml")],
                       cwd=ROOT, check=True, env=dict(os.environ, CARGO_TARGET_DIR=target))
    binaries = {"floor": os.path.join(target, "release", "sluice-bench-floor"),
                "floor-hyper": os.path.join(target, "release", "floor-hyper")}
    for binary in binaries.values():
        if not os.path.exists(binary):
            sys.exit(f"no floor binary at {binary} (run without --no-build once)")
    return binaries


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ports():
    return {"http": free_port(), "h2c": free_port(), "https": free_port(), "admin": free_port()}


def start(cmd, core, env=None, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
    """Starts `cmd` pinned to `core` (taskset execs, so the pid is the program's)."""
    proc = subprocess.Popen(["taskset", "-c", core, *cmd], env=env, stdout=stdout,
                            stderr=stderr, stdin=subprocess.DEVNULL)
    STARTED.append(proc)
    return proc


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    if proc in STARTED:
        STARTED.remove(proc)


def stop_all():
    for proc in list(STARTED):
        stop(proc)


def wait_http(port, host="127.0.0.1", want=None, timeout=120.0):
    """Polls until `GET /` on `port` answers (with status `want` when given)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/", headers={"Host": host})
            status = conn.getresponse().status
            conn.close()
            if want is None or status == want:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"127.0.0.1:{port} (Host {host}) not ready")


def family_pids(pid):
    """`pid` and its descendants (nginx: master and worker)."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return pids


def cpu_split(pid):
    """(utime, stime) of `pid` and its children, all threads, in seconds: CPU in user space and
    in the kernel (system calls, and the loopback packets they deliver)."""
    user = system = 0
    for p in family_pids(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            user += int(fields[11])  # utime (field 14)
            system += int(fields[12])  # stime (field 15)
        except OSError:
            pass
    return user / CLK_TCK, system / CLK_TCK


def cpu_seconds(pid):
    """utime + stime of `pid` and its children, all threads, in seconds."""
    return sum(cpu_split(pid))


def rss_kib(pid):
    total = 0
    for p in family_pids(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


# ---------------------------------------------------------------- the processes


class Env:
    """Temp dir, certificate, origin and the sluice binary shared by all runs."""

    def __init__(self, binary):
        self.binary = binary
        self.binaries = {}  # other sluice builds by proxy name (`--sluice-b`)
        self.extra_args = {}  # more `sluice gateway` flags by proxy name (`--sluice-b-args`)
        self.dir = tempfile.mkdtemp(prefix="sluice-e2e-")
        os.makedirs(os.path.join(self.dir, "tmp"))
        self.cert = os.path.join(self.dir, "cert.pem")
        self.key = os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=bench.local",
                        "-days", "30", "-keyout", self.key, "-out", self.cert],
                       check=True, capture_output=True)
        self.pem = os.path.join(self.dir, "haproxy.pem")
        with open(self.pem, "wb") as f:
            f.write(open(self.cert, "rb").read() + open(self.key, "rb").read())
        self.origin_port = free_port()
        self.origin_status = free_port()
        conf = os.path.join(self.dir, "origin.conf")
        with open(conf, "w") as f:
            f.write(configs.origin_nginx(self.origin_port, self.origin_status, self.dir))
        self.origin = start(["nginx", "-c", conf, "-p", self.dir, "-g", "daemon off;"], LOAD_CORE)
        wait_http(self.origin_port)

    def origin_counters(self):
        """(accepted connections, requests) at the origin, from stub_status."""
        conn = http.client.HTTPConnection("127.0.0.1", self.origin_status, timeout=5)
        conn.request("GET", "/")
        text = conn.getresponse().read().decode()
        conn.close()
        nums = text.splitlines()[2].split()
        return int(nums[0]), int(nums[2])

    def close(self):
        stop_all()
        shutil.rmtree(self.dir, ignore_errors=True)


class Proxy:
    """One running proxy: its pid, ports and how to stop it."""

    def __init__(self, name, proc, p):
        self.name, self.proc, self.ports = name, proc, p

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        stop(self.proc)


def start_proxy(env, name, hosts=0):
    p = ports()
    d = tempfile.mkdtemp(prefix=f"{name}-", dir=env.dir)
    os.makedirs(os.path.join(d, "tmp"))
    probe_host = "host-0.example.com" if hosts else "127.0.0.1"
    if name == "nginx":
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(configs.nginx_proxy(p, env.origin_port, d, env.cert, env.key, hosts))
        proc = start(["nginx", "-c", conf, "-p", d, "-g", "daemon off;"], PROXY_CORE)
    elif name == "haproxy":
        hosts_map = None
        if hosts:
            hosts_map = os.path.join(d, "hosts.map")
            with open(hosts_map, "w") as f:
                f.writelines(f"host-{i}.example.com origin\n" for i in range(hosts))
        conf = os.path.join(d, "haproxy.cfg")
        with open(conf, "w") as f:
            f.write(configs.haproxy(p, env.origin_port, env.pem, hosts_map))
        proc = start(["haproxy", "-f", conf, "-db"], PROXY_CORE)
    elif name in FLOORS:
        proc = start([env.binaries[name], "--http-port", str(p["http"]),
                      "--origin-port", str(env.origin_port)], PROXY_CORE)
    else:
        manifests = os.path.join(d, "manifests")
        os.makedirs(manifests)
        with open(os.path.join(manifests, "common.yaml"), "w") as f:
            f.write(configs.sluice_common(env.origin_port,
                                          open(env.cert, "rb").read(), open(env.key, "rb").read()))
        with open(os.path.join(manifests, "routes.yaml"), "w") as f:
            f.write(configs.sluice_hosts(hosts) if hosts else configs.sluice_ingress("catch-all"))
        proc = start_sluice(env, manifests, p, os.path.join(d, "sluice.log"),
                            env.binaries.get(name, env.binary), env.extra_args.get(name, []))
        p["h2c"] = p["http"]  # sluice serves HTTP/1.1 and h2c on one port
    proxy = Proxy(name, proc, p)
    proxy.dir = d
    wait_http(p["http"], probe_host, want=200)
    return proxy


def start_sluice(env, manifests, p, logfile, binary=None, extra=()):
    cmd = [binary or env.binary, "gateway", "--manifests", manifests, "--bind-address", "127.0.0.1",
           "--http-port", str(p["http"]), "--https-port", str(p["https"]),
           "--admin-port", str(p["admin"]), "--admin-address", "127.0.0.1",
           "--configmap", "default/sluice", "--default-ssl-certificate", "default/bench-tls",
           "--access-log=false", "--shutdown-grace-period=0", "--shutdown-timeout=1", *extra]
    senv = dict(os.environ, SLUICE_WORKER_THREADS="1", SLUICE_LOG_FORMAT="json")
    senv.pop("SLUICE_LOG", None)
    return start(cmd, PROXY_CORE, env=senv, stderr=open(logfile, "w"))


# ---------------------------------------------------------------- load generators


def run_wrk(url, duration, conns, headers=(), script=None):
    cmd = ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{conns}", f"-d{duration}s",
           "--latency", "--timeout", "5s"]
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=duration + 60).stdout
    m = re.search(r"(\d+) requests in", out)
    reqs = int(m.group(1)) if m else 0
    errors = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    p99 = None
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if m:
        p99 = float(m.group(1)) * {"us": 1, "ms": 1000, "s": 1e6}[m.group(2)]
    return {"requests": reqs, "errors": errors, "p99_us": p99, "raw": out}


def run_h2load(url, duration, conns=10, streams=100):
    cmd = ["taskset", "-c", LOAD_CORE, "h2load", "-t1", f"-c{conns}", f"-m{streams}",
           f"-D{duration}", url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60).stdout
    m = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored", out)
    reqs = int(m.group(2)) if m else 0
    errors = (int(m.group(3)) + int(m.group(4))) if m else 0
    m = re.search(r"status codes: (\d+) 2xx", out)
    if m:
        reqs = int(m.group(1))
    return {"requests": reqs, "errors": errors, "p99_us": None, "raw": out}


OHA_FLAGS = []  # the JSON and deadline flags this oha spells, read once from its --help


def oha_flags(oha):
    if not OHA_FLAGS:
        help_text = subprocess.run([oha, "--help"], capture_output=True, text=True).stdout
        OHA_FLAGS.extend(["--output-format", "json"] if "--output-format" in help_text else ["-j"])
        if "--wait-ongoing-requests-after-deadline" in help_text:
            OHA_FLAGS.append("--wait-ongoing-requests-after-deadline")
    return OHA_FLAGS


def run_oha(url, duration, conns, rate):
    """Open loop: `rate` requests per second spread over `conns` HTTP/1.1 keep-alive
    connections for `duration` s, each request's latency counted from its intended send time
    (`--latency-correction`), so a stall delays the requests queued behind it and is counted."""
    oha = oha_binary()
    cmd = ["taskset", "-c", LOAD_CORE, oha, "--no-tui", *oha_flags(oha), "-q", str(rate),
           "--latency-correction", "-z", f"{duration}s", "-c", str(conns), url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    try:
        data = json.loads(out.stdout)
    except ValueError:
        log(f"oha gave no JSON: {out.stderr.strip()[-500:]}")
        return {"requests": 0, "errors": 1, "p50_us": None, "p99_us": None, "p999_us": None,
                "raw": out.stdout}
    codes = {int(k): v for k, v in data.get("statusCodeDistribution", {}).items()}
    lat = data.get("latencyPercentiles", {})

    def us(key):
        v = lat.get(key)
        return v * 1e6 if isinstance(v, (int, float)) else None

    return {"requests": sum(v for k, v in codes.items() if 200 <= k < 400),
            "errors": sum(v for k, v in codes.items() if not 200 <= k < 400)
            + sum(data.get("errorDistribution", {}).values()),
            "p50_us": us("p50"), "p99_us": us("p99"), "p999_us": us("p99.9"),
            "rps": data.get("summary", {}).get("requestsPerSec"), "raw": data}


def load(proxy, scenario, duration, script=None, rate=None):
    """Runs `scenario`'s load generator against `proxy` for `duration` s; its parsed output."""
    p = proxy.ports
    if scenario == "keepalive":
        return run_wrk(f"http://127.0.0.1:{p['http']}/", duration, 50)
    if scenario == "newconn":
        return run_wrk(f"http://127.0.0.1:{p['http']}/", duration, 50, ["Connection: close"])
    if scenario == "h2c":
        return run_h2load(f"http://127.0.0.1:{p['h2c']}/", duration)
    if scenario == "tls":
        return run_wrk(f"https://127.0.0.1:{p['https']}/", duration, 50, ["Connection: close"])
    if scenario == "hosts10k":
        return run_wrk(f"http://127.0.0.1:{p['http']}/", duration, 50, script=script)
    if scenario == "rate":
        return run_oha(f"http://127.0.0.1:{p['http']}/", duration, rate[1], rate[0])
    raise ValueError(scenario)


def measure(env, proxy, scenario, duration, script=None, rate=None, warmup=0):
    """One run of `scenario` against `proxy`: requests, rps, CPU µs per request, p99 (and p50,
    p99.9 for `rate`, which is (requests per second, connections)).

    With `warmup`, the benchmark protocol's warm-up (pools filled, caches warm): a closed-loop
    load runs for `warmup` + `duration` s without a break and only its last `duration` s are
    measured (the proxy's CPU and the origin's counters are read at the boundary; requests are
    those the origin served in the window), so the figures, upstream reuse among them, are
    those of steady load. Stopping a load generator cancels its requests in flight (h2load:
    1,000 streams), and a proxy may drop the upstream connections they held; a separate
    warm-up run would leave the measured run to open them again. `rate` gets a separate
    warm-up run instead, since its latency percentiles cover a whole run."""
    continuous = warmup > 0 and scenario != "rate"
    if warmup > 0 and not continuous:
        load(proxy, scenario, warmup, script, rate)
    r = {}
    total = duration + (warmup if continuous else 0)
    worker = threading.Thread(target=lambda: r.update(load(proxy, scenario, total, script, rate)))
    if continuous:
        worker.start()
        time.sleep(warmup)
    before_cpu = cpu_split(proxy.pid)
    before_origin = env.origin_counters()
    t0 = time.monotonic()
    if not continuous:
        worker.start()
    worker.join()
    elapsed = time.monotonic() - t0
    after_cpu = cpu_split(proxy.pid)
    system = after_cpu[1] - before_cpu[1]
    cpu = sum(after_cpu) - sum(before_cpu)
    after_origin = env.origin_counters()
    accepts = after_origin[0] - before_origin[0] - 1  # minus the stub_status connection
    upstream = after_origin[1] - before_origin[1] - 1
    reqs = max(upstream, 0) if continuous else r.get("requests", 0)
    return {
        "requests": reqs,
        "errors": r.get("errors", 1),
        "rps": (reqs / elapsed if elapsed else 0) if continuous
        else r.get("rps") or (reqs / elapsed if elapsed else 0),
        "cpu_us_per_req": cpu * 1e6 / reqs if reqs else None,
        "sys_us_per_req": system * 1e6 / reqs if reqs else None,
        "cpu_util": cpu / elapsed if elapsed else 0,
        "p99_us": r.get("p99_us"),
        "p50_us": r.get("p50_us"),
        "p999_us": r.get("p999_us"),
        "upstream_reuse": (1 - accepts / upstream) if upstream > 0 else None,
        "rss_kib": rss_kib(proxy.pid),
    }


def direct_rate(env, duration, rate):
    """The fixed-rate run straight to the origin: the latency floor of client and origin."""
    t0 = time.monotonic()
    d = run_oha(f"http://127.0.0.1:{env.origin_port}/", duration, rate[1], rate[0])
    el = time.monotonic() - t0
    return {"requests": d["requests"], "errors": d["errors"],
            "rps": d.get("rps") or d["requests"] / el,
            "cpu_us_per_req": None, "cpu_util": None, "p50_us": d["p50_us"],
            "p99_us": d["p99_us"], "p999_us": d["p999_us"], "upstream_reuse": None}


# ---------------------------------------------------------------- propagation and memory


# Pause between two polls of a change's effect. A change is seen up to one pause plus one request
# late; the pause is short so that this resolution is well under the figures measured.
POLL_INTERVAL = 0.00025


class Client:
    """One keep-alive connection to a proxy's HTTP port, opened again after an error."""

    def __init__(self, port):
        self.port = port
        self.conn = self._open()

    def _open(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)

    def get(self, host, path="/"):
        """`GET path` for `host`: the read response, or None when the request failed."""
        try:
            self.conn.request("GET", path, headers={"Host": host})
            resp = self.conn.getresponse()
            resp.read()
            return resp
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = self._open()
            return None

    def until(self, host, t0, done, expected, path="/"):
        """Polls `host` every POLL_INTERVAL until `done(response)`: (ms since `t0`, or None after
        30 s; answers before that which `expected(response)` refuses, None for a failure)."""
        bad = 0
        while True:
            resp = self.get(host, path)
            if resp is not None and done(resp):
                return (time.monotonic() - t0) * 1000, bad
            if not expected(resp):
                bad += 1
            if time.monotonic() > t0 + 30:
                return None, bad + 1
            time.sleep(POLL_INTERVAL)

    def close(self):
        self.conn.close()


def loaded_manifests(env, loaded, prefix):
    """A new directory whose `manifests/` holds the common objects and `loaded` Ingresses."""
    d = tempfile.mkdtemp(prefix=prefix, dir=env.dir)
    manifests = os.path.join(d, "manifests")
    os.makedirs(manifests)
    with open(os.path.join(manifests, "common.yaml"), "w") as f:
        f.write(configs.sluice_common(env.origin_port, open(env.cert, "rb").read(),
                                      open(env.key, "rb").read()))
    with open(os.path.join(manifests, "routes.yaml"), "w") as f:
        f.write(configs.sluice_hosts(loaded))
    return d, manifests


def propagation(env, loaded, samples):
    """Write a new Ingress file next to `loaded` Ingresses, poll until routed."""
    p = ports()
    d, manifests = loaded_manifests(env, loaded, "prop-")
    logfile = os.path.join(d, "sluice.log")
    proc = start_sluice(env, manifests, p, logfile)
    try:
        wait_http(p["http"], f"host-{loaded - 1}.example.com", want=200, timeout=300)
        client = Client(p["http"])
        lat, bad, apply_ms = [], 0, []
        for i in range(samples):
            host = f"new-{i}.example.com"
            tmp = os.path.join(manifests, f".new-{i}.tmp")
            with open(tmp, "w") as f:
                f.write(configs.sluice_ingress(f"new-{i}", host))
            t0 = time.monotonic()
            os.rename(tmp, os.path.join(manifests, f"new-{i}.yaml"))
            ms, unexpected = client.until(host, t0, lambda r: r.status == 200,
                                          lambda r: r is not None and r.status == 404)
            bad += unexpected
            if ms is not None:
                lat.append(ms)
                apply_ms.append(last_apply_ms(logfile))
            time.sleep(0.05)
        client.close()
        rss = rss_kib(proc.pid)
    finally:
        stop(proc)
    return {"loaded": loaded, "samples": lat, "unexpected_status": bad, "rss_kib": rss,
            "apply_ms": [a for a in apply_ms if a is not None]}


class _OriginB(http.server.BaseHTTPRequestHandler):
    """A second origin, told apart by its `X-Origin: b` header."""

    protocol_version = "HTTP/1.1"
    # Head and body go out in two writes; with Nagle on, the second waits for the proxy's
    # delayed ACK (~40 ms), which would be measured as propagation.
    disable_nagle_algorithm = True

    def do_GET(self):  # noqa: N802 (the handler's required name)
        self.send_response(200)
        self.send_header("X-Origin", "b")
        self.send_header("Content-Length", "1")
        self.end_headers()
        self.wfile.write(b"b")

    def log_message(self, *args):
        pass


SHIFT_ROUTE = """---
apiVersion: v1
kind: Service
metadata:
  name: shift
  namespace: default
spec:
  ports:
  - port: 80
    protocol: TCP
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shift
  namespace: default
spec:
  ingressClassName: sluice
  rules:
  - host: shift.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: shift
            port:
              number: 80
"""


def shift_slice(port, name="shift-1", present=True):
    """EndpointSlice `name` of Service `shift`: one ready endpoint on loopback `port`, or none
    when not `present`."""
    endpoints = ('\n- addresses: ["127.0.0.1"]\n  conditions:\n    ready: true'
                 if present else " []")
    return f"""apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}
  namespace: default
  labels:
    kubernetes.io/service-name: shift
addressType: IPv4
ports:
- port: {port}
  protocol: TCP
endpoints:{endpoints}
"""


def endpoint_shift(env, loaded, samples):
    """Rewrite one Service's EndpointSlice between two origins next to `loaded` Ingresses;
    poll until requests reach the new one."""
    p = ports()
    d, manifests = loaded_manifests(env, loaded, "shift-")
    with open(os.path.join(manifests, "shift.yaml"), "w") as f:
        f.write(SHIFT_ROUTE)
    slice_path = os.path.join(manifests, "shift-slice.yaml")
    with open(slice_path, "w") as f:
        f.write(shift_slice(env.origin_port))
    origin_b = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OriginB)
    threading.Thread(target=origin_b.serve_forever, daemon=True).start()
    b_port = origin_b.server_address[1]
    logfile = os.path.join(d, "sluice.log")
    proc = start_sluice(env, manifests, p, logfile)
    try:
        wait_http(p["http"], "shift.example.com", want=200, timeout=300)
        client = Client(p["http"])
        lat, bad = [], 0
        for i in range(samples):
            to_b = i % 2 == 0
            tmp = os.path.join(manifests, ".shift.tmp")
            with open(tmp, "w") as f:
                f.write(shift_slice(b_port if to_b else env.origin_port))
            t0 = time.monotonic()
            os.rename(tmp, slice_path)
            ms, unexpected = client.until(
                "shift.example.com", t0,
                lambda r, to_b=to_b: r.status == 200 and (r.getheader("X-Origin") == "b") == to_b,
                lambda r: r is not None and r.status == 200)
            bad += unexpected
            if ms is not None:
                lat.append(ms)
            time.sleep(0.05)
        client.close()
        rss = rss_kib(proc.pid)
    finally:
        stop(proc)
        origin_b.shutdown()
    return {"loaded": loaded, "samples": lat, "failed": bad, "rss_kib": rss}


def swap_step(i, same_host=False):
    """Swap `i` of a cycle of three on Ingress `swap-<k>` (a new host every cycle, or always
    `swap-0` with `same_host`): (what, host, file text or None to remove it, path polled,
    status it answers before, and after)."""
    k, step = divmod(i, 3)
    k = 0 if same_host else k
    name, host = f"swap-{k}", f"swap-{k}.example.com"
    if step == 0:  # add: / of a new host goes from 404 to 200
        return "add", host, configs.sluice_ingress(name, host), "/", 404, 200
    if step == 1:  # modify: its only path becomes /v2, so / goes back to 404
        return "modify", host, configs.sluice_ingress(name, host, "/v2"), "/", 200, 404
    return "remove", host, None, "/v2", 200, 404  # remove: /v2 goes from 200 to 404


def apply_swap(manifests, text):
    """Writes (atomic rename) or removes `swap.yaml`."""
    target = os.path.join(manifests, "swap.yaml")
    if text is None:
        os.unlink(target)
        return
    tmp = os.path.join(manifests, ".swap.tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, target)


def count_applies(logfile):
    with open(logfile) as f:
        return sum(1 for ln in f if '"config applied"' in ln)


def swaps(env, loaded, count, time_limit, same_host=False, settle=10.0):
    """`count` route changes next to `loaded` Ingresses, each a table swap (add, modify, remove
    one Ingress file in turn) awaited until the proxy answers by it; VmRSS every 1,000 swaps
    (every tenth of `count` below 2,000) and once more after `settle` s idle."""
    p = ports()
    d, manifests = loaded_manifests(env, loaded, "swaps-")
    logfile = os.path.join(d, "sluice.log")
    proc = start_sluice(env, manifests, p, logfile)
    every = 1000 if count >= 2000 else max(1, count // 10)
    lat = {"add": [], "modify": [], "remove": []}
    failed, timeouts, done = 0, 0, 0
    try:
        wait_http(p["http"], f"host-{loaded - 1}.example.com", want=200, timeout=300)
        client = Client(p["http"])
        rss = [(0, rss_kib(proc.pid))]
        applies0 = count_applies(logfile)
        t_start = time.monotonic()
        for i in range(count):
            if proc.poll() is not None or time.monotonic() - t_start > time_limit:
                break
            what, host, text, path, before, after = swap_step(i, same_host)
            t0 = time.monotonic()
            apply_swap(manifests, text)
            ms, unexpected = client.until(host, t0, lambda r, a=after: r.status == a,
                                          lambda r, b=before: r is not None and r.status == b,
                                          path)
            failed += unexpected - (ms is None)  # `until` counts its timeout as one
            if ms is None:
                timeouts += 1
            else:
                lat[what].append(ms)
            done += 1
            if done % every == 0:
                rss.append((done, rss_kib(proc.pid)))
                el = time.monotonic() - t_start
                log(f"swaps: {done}/{count} in {el:.0f} s ({done / el:.0f}/s), "
                    f"VmRSS {rss[-1][1] / 1024:.1f} MiB")
        elapsed = time.monotonic() - t_start
        if rss[-1][0] != done:
            rss.append((done, rss_kib(proc.pid)))
        client.close()
        time.sleep(settle)
        settled = rss_kib(proc.pid)
        applies = count_applies(logfile) - applies0
        exited = proc.poll()
    finally:
        stop(proc)
    return {"loaded": loaded, "requested": count, "same_host": same_host, "done": done,
            "elapsed_s": elapsed, "time_limit_s": time_limit, "rss_kib": rss,
            "settled_kib": settled, "settle_s": settle, "latency_ms": lat,
            "unexpected_status": failed, "timeouts": timeouts, "applies_logged": applies,
            "exited": exited}


def churn_route(timeout_s):
    """Service `shift` and its Ingress, with `proxy-read-timeout` set to `timeout_s`: a change
    of the route under load that leaves it routing to the same Service."""
    ingress = SHIFT_ROUTE.split("---\napiVersion: networking.k8s.io/v1\n", 1)
    return (ingress[0] + "---\napiVersion: networking.k8s.io/v1\n" + ingress[1].replace(
        "  namespace: default\nspec:\n  ingressClassName",
        "  namespace: default\n  annotations:\n"
        f"    nginx.ingress.kubernetes.io/proxy-read-timeout: \"{timeout_s}\"\n"
        "spec:\n  ingressClassName", 1))


def write_atomic(path, text):
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def churn(env, loaded, changes, seconds, interval=0.01):
    """Failed requests under load while routes and endpoints change: wrk keeps 50 keep-alive
    connections on `shift.example.com` for `seconds`, while `changes` route changes are made
    and awaited (the add, modify, remove cycle of `swaps` next to `loaded` Ingresses, and every
    tenth change a new `proxy-read-timeout` on the loaded route itself), and the loaded
    Service's endpoints move between two origins every `interval` s (A, A+B, B, A+B, ...: one
    EndpointSlice per origin, emptied and filled in turn, never both empty)."""
    p = ports()
    d, manifests = loaded_manifests(env, loaded, "churn-")
    b_port, b_status = free_port(), free_port()
    os.makedirs(os.path.join(d, "origin-b", "tmp"))
    conf = os.path.join(d, "origin-b.conf")
    with open(conf, "w") as f:
        f.write(configs.origin_nginx(b_port, b_status, os.path.join(d, "origin-b")))
    origin_b = start(["nginx", "-c", conf, "-p", os.path.join(d, "origin-b"), "-g", "daemon off;"],
                     LOAD_CORE)
    route = os.path.join(manifests, "shift.yaml")
    slices = {"a": (os.path.join(manifests, "shift-a.yaml"), env.origin_port),
              "b": (os.path.join(manifests, "shift-b.yaml"), b_port)}
    write_atomic(route, churn_route(60))
    for name, (path, port) in slices.items():
        write_atomic(path, shift_slice(port, f"shift-{name}"))
    logfile = os.path.join(d, "sluice.log")
    proc = start_sluice(env, manifests, p, logfile)
    stop_churn = threading.Event()
    endpoint_changes = [0]

    def move_endpoints():
        # A+B -> B -> A+B -> A -> ...: empty one slice, then fill it again, alternating.
        k = 0
        while not stop_churn.wait(interval):
            name = "a" if k % 4 < 2 else "b"
            path, port = slices[name]
            write_atomic(path, shift_slice(port, f"shift-{name}", k % 2 == 1))
            endpoint_changes[0] += 1
            k += 1

    try:
        wait_http(b_port)
        wait_http(p["http"], "shift.example.com", want=200, timeout=300)
        wait_http(p["http"], f"host-{loaded - 1}.example.com", want=200, timeout=300)
        result = {}
        load_thread = threading.Thread(target=lambda: result.update(run_wrk(
            f"http://127.0.0.1:{p['http']}/", seconds, 50, ["Host: shift.example.com"])))
        mover = threading.Thread(target=move_endpoints)
        load_thread.start()
        mover.start()
        client = Client(p["http"])
        done, unexpected, t_start = 0, 0, time.monotonic()
        for i in range(changes):
            if proc.poll() is not None or time.monotonic() - t_start > seconds - 1:
                break
            if i % 10 == 9:
                write_atomic(route, churn_route(60 + i % 20))
            what, host, text, path, before, after = swap_step(i)
            t0 = time.monotonic()
            apply_swap(manifests, text)
            ms, bad = client.until(host, t0, lambda r, a=after: r.status == a,
                                   lambda r, b=before: r is not None and r.status == b, path)
            unexpected += bad
            done += 1
        route_s = time.monotonic() - t_start
        client.close()
        load_thread.join()
        stop_churn.set()
        mover.join()
        exited = proc.poll()
    finally:
        stop_churn.set()
        stop(proc)
        stop(origin_b)
    return {"loaded": loaded, "route_changes": done, "route_changes_s": route_s,
            "endpoint_changes": endpoint_changes[0], "seconds": seconds,
            "requests": result.get("requests", 0), "failed": result.get("errors", 1),
            "p99_us": result.get("p99_us"), "unexpected_while_waiting": unexpected,
            "exited": exited}


def last_apply_ms(logfile):
    """`apply_us` (diff + router compile + swap) of the gateway's last `config applied` line."""
    with open(logfile) as f:
        lines = [ln for ln in f if '"config applied"' in ln]
    try:
        return json.loads(lines[-1])["apply_us"] / 1000
    except (IndexError, KeyError, ValueError):
        return None


def memory(env, sizes):
    """RSS of each proxy with `n` hosts loaded, after one request to each of 100 hosts."""
    out = {}
    for n in sizes:
        for name in [p for p in PROXIES if p not in FLOORS]:  # the floors have no host table
            proxy = start_proxy(env, name, hosts=n)
            try:
                conn = http.client.HTTPConnection("127.0.0.1", proxy.ports["http"], timeout=5)
                for i in range(0, n, max(1, n // 100)):
                    conn.request("GET", "/", headers={"Host": f"host-{i}.example.com"})
                    conn.getresponse().read()
                conn.close()
                out[(name, n)] = rss_kib(proxy.pid)
            finally:
                proxy.stop()
    return out


# ---------------------------------------------------------------- report


def pct(values, q):
    s = sorted(values)
    if not s:
        return None
    k = min(len(s) - 1, max(0, int(round(q / 100 * (len(s) - 1)))))
    return s[k]


def fmt_range(values, digits=1):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    med = statistics.median(values)
    return f"{med:.{digits}f} [{min(values):.{digits}f}-{max(values):.{digits}f}]"


def report_closed_loop(results, add):
    """The closed-loop scenarios: throughput, CPU per request, wrk's p99, and the ratios."""
    add("| scenario | proxy | rps median [range] | CPU µs/req median [range] "
        "| of which kernel | p99 µs (wrk) | upstream reuse | errors |")
    add("|---|---|---|---|---|---|---|---|")
    for sc in CLOSED_LOOP:
        for name in PROXIES + ["direct"]:
            runs = results.get((sc, name))
            if not runs:
                continue
            reuse = [r["upstream_reuse"] for r in runs if r["upstream_reuse"] is not None]
            add(f"| {sc} | {name} | {fmt_range([r['rps'] for r in runs], 0)} | "
                f"{fmt_range([r['cpu_us_per_req'] for r in runs], 2)} | "
                f"{fmt_range([r.get('sys_us_per_req') for r in runs], 2)} | "
                f"{fmt_range([r['p99_us'] for r in runs], 0)} | "
                f"{(f'{min(reuse) * 100:.3f}% (min)') if reuse else '-'} | "
                f"{sum(r['errors'] for r in runs)} |")
    add("\n| scenario | CPU/req sluice÷nginx median [range over rounds] | sluice÷HAProxy "
        "| p99 sluice÷nginx |")
    add("|---|---|---|---|")
    for sc, me in [(sc, me) for sc in CLOSED_LOOP for me in ["sluice", "sluice-b", *FLOORS]]:
        s = results.get((sc, me))
        if not s:
            continue
        cells = []
        for other in ("nginx", "haproxy"):
            o = results.get((sc, other))
            if not o:
                cells.append("-")
                continue
            per_round = [a["cpu_us_per_req"] / b["cpu_us_per_req"] for a, b in zip(s, o)
                         if a["cpu_us_per_req"] and b["cpu_us_per_req"]]
            cells.append(fmt_range(per_round, 2))
        o = results.get((sc, "nginx"))
        p99 = [a["p99_us"] / b["p99_us"] for a, b in zip(s, o or []) if a["p99_us"] and b["p99_us"]]
        cells.append(fmt_range(p99, 2))
        add(f"| {sc}{'' if me == 'sluice' else f' ({me})'} | " + " | ".join(cells) + " |")


def report(results, rounds, duration, prop, mem, shift=(), rate=None, swap_runs=(), warmup=0,
           churn_runs=()):
    lines = []
    add = lines.append
    add(f"\n## sluice e2e bench: {rounds} interleaved rounds, {duration}s per run after {warmup}s "
        f"of the same load discarded, proxies on "
        f"core {PROXY_CORE}, load generator and origin on core {LOAD_CORE}")
    add(f"loadavg at end: {open('/proc/loadavg').read().strip()}\n")
    if any(results.get((sc, n)) for sc in CLOSED_LOOP for n in PROXIES):
        report_closed_loop(results, add)
    if any(results.get(("rate", n)) for n in PROXIES):
        report_rate(results, rate, add)
    for r in swap_runs:
        report_swaps(r, add)
    if churn_runs:
        add("\n| churn under load (wrk, 50 keep-alive connections on the changing route) | "
            "requests | failed | route changes (awaited) | endpoint changes | p99 µs | "
            "gateway exited |")
        add("|---|---|---|---|---|---|---|")
        for r in churn_runs:
            add(f"| {r['loaded']} Ingresses loaded, {r['seconds']} s | {r['requests']} | "
                f"**{r['failed']}** | {r['route_changes']} in {r['route_changes_s']:.1f} s | "
                f"{r['endpoint_changes']} | {r['p99_us'] or 0:.0f} | "
                f"{'no' if r['exited'] is None else r['exited']} |")
    if prop:
        add("\n| propagation (new Ingress file → first 200) | samples | p50 ms | p99 ms | "
            "max ms | non-404/200 | RSS after | of which apply (diff+compile+swap) p50 ms |")
        add("|---|---|---|---|---|---|---|---|")
        for r in prop:
            s = r["samples"]
            add(f"| {r['loaded']} Ingresses loaded | {len(s)} | {pct(s, 50):.1f} | "
                f"{pct(s, 99):.1f} | {max(s):.1f} | {r['unexpected_status']} | "
                f"{r['rss_kib'] / 1024:.1f} MiB | {pct(r['apply_ms'], 50) or 0:.1f} |" if s else f"| {r['loaded']} | 0 | - | - | - | "
                f"{r['unexpected_status']} | - | - |")
    if shift:
        add("\n| endpoint shift (EndpointSlice file rewritten → requests reach the new origin) | "
            "samples | p50 ms | p99 ms | max ms | failed requests |")
        add("|---|---|---|---|---|---|")
        for r in shift:
            s = r["samples"]
            if s:
                add(f"| {r['loaded']} Ingresses loaded | {len(s)} | {pct(s, 50):.1f} | "
                    f"{pct(s, 99):.1f} | {max(s):.1f} | {r['failed']} |")
    if mem:
        add("\n| RSS (VmRSS, all processes) | " + " | ".join(PROXIES) + " |")
        add("|---|" + "---|" * len(PROXIES))
        for n in sorted({n for _, n in mem}):
            add(f"| {n} hosts | " + " | ".join(f"{mem[(p, n)] / 1024:.1f} MiB" if (p, n) in mem
                                               else "-" for p in PROXIES) + " |")
    return "\n".join(lines)


def per_round(results, me, other, key):
    """`me` ÷ `other` of `key` for each round both have it."""
    return [a[key] / b[key] for a, b in zip(results.get(("rate", me), []),
                                          results.get(("rate", other), [])) if a[key] and b[key]]


def report_rate(results, rate, add):
    """The fixed-rate (open loop) scenario: latency per proxy, ratios to nginx and HAProxy."""
    add(f"\n### fixed rate: {rate[0]} req/s over {rate[1]} HTTP/1.1 keep-alive connections, open "
        "loop (oha `-q`), latency from each request's intended send time (`--latency-correction`)")
    ka = {n: statistics.median([r["rps"] for r in results[("keepalive", n)]])
          for n in PROXIES if results.get(("keepalive", n))}
    if ka:
        low = min(ka, key=ka.get)
        add(f"\nThe rate is {rate[0] / ka[low] * 100:.0f}% of the lowest closed-loop keep-alive "
            f"throughput of this run ({low}, {ka[low]:.0f} req/s).")
    add("\n| proxy | achieved req/s | p50 µs | p99 µs | p99.9 µs | proxy CPU, % of a core "
        "| CPU µs/req | errors |")
    add("|---|---|---|---|---|---|---|---|")
    warn = []
    for name in PROXIES + ["direct"]:
        runs = results.get(("rate", name))
        if not runs:
            continue
        util = [r["cpu_util"] * 100 for r in runs if r.get("cpu_util") is not None]
        add(f"| {name} | {fmt_range([r['rps'] for r in runs], 0)} | "
            f"{fmt_range([r['p50_us'] for r in runs], 0)} | "
            f"{fmt_range([r['p99_us'] for r in runs], 0)} | "
            f"{fmt_range([r['p999_us'] for r in runs], 0)} | "
            f"{(fmt_range(util, 0) + ' %') if util else '-'} | "
            f"{fmt_range([r['cpu_us_per_req'] for r in runs], 2)} | "
            f"{sum(r['errors'] for r in runs)} |")
        for rnd, r in enumerate(runs, 1):
            if r["rps"] < 0.97 * rate[0]:
                warn.append(f"{name} fell short of the rate in round {rnd} ({r['rps']:.0f} req/s: "
                            "the load generator or the proxy did not keep up; its latencies "
                            "count the wait)")
            if r.get("cpu_util") is not None and r["cpu_util"] > 0.5:
                warn.append(f"{name} used {r['cpu_util'] * 100:.0f} % of its core in round "
                            f"{rnd}: not well below saturation")
    add("\n| ratio, per round then median [range] | p50 | p99 | p99.9 |")
    add("|---|---|---|---|")
    for me in ["sluice", "sluice-b", *FLOORS]:
        for other in ("nginx", "haproxy"):
            if results.get(("rate", me)) and results.get(("rate", other)):
                add(f"| {me} ÷ {'HAProxy' if other == 'haproxy' else other} | " + " | ".join(
                    fmt_range(per_round(results, me, other, k), 2)
                    for k in ("p50_us", "p99_us", "p999_us")) + " |")
    for w in warn:
        add(f"\n**warning:** {w}.")


def report_swaps(r, add):
    """RSS over the route swaps: the samples, growth, and how long each change took."""
    rss = r["rss_kib"]
    hosts = "the same host every cycle" if r["same_host"] else "a new host every cycle"
    add(f"\n### route swaps: {r['done']:,} of {r['requested']:,} with {r['loaded']:,} Ingresses "
        f"loaded, {hosts}, in {r['elapsed_s']:.0f} s "
        f"({r['done'] / max(r['elapsed_s'], 1e-9):.0f} swaps/s)")
    if r["done"] < r["requested"]:
        why = ("the gateway exited" if r["exited"] is not None
               else f"time limit of {r['time_limit_s']:.0f} s reached")
        add(f"\n**stopped early**: {why}.")
    add(f"\n`config applied` lines logged during the swaps: {r['applies_logged']:,}; unexpected "
        f"answers while waiting: {r['unexpected_status']}; changes not seen within 30 s: "
        f"{r['timeouts']}.")
    add("\n| swaps done | VmRSS | vs start |")
    add("|---|---|---|")
    start = rss[0][1]
    for n, kib in rss + [(f"{rss[-1][0]:,} + {r['settle_s']:.0f} s idle", r["settled_kib"])]:
        label = f"{n:,}" if isinstance(n, int) else n
        add(f"| {label} | {kib / 1024:.1f} MiB | {(kib / start - 1) * 100:+.1f} % |")
    if len(rss) > 2:
        first = rss[1]
        add(f"\nGrowth, end vs after {first[0]:,} swaps: "
            f"{(rss[-1][1] / first[1] - 1) * 100:+.1f} %; end vs start: "
            f"{(rss[-1][1] / start - 1) * 100:+.1f} %; after the idle pause vs after "
            f"{first[0]:,}: {(r['settled_kib'] / first[1] - 1) * 100:+.1f} %.")
    add("\n| change (write → answered by it) | samples | p50 ms | p99 ms | max ms |")
    add("|---|---|---|---|---|")
    for what, s in r["latency_ms"].items():
        if s:
            add(f"| {what} | {len(s)} | {pct(s, 50):.1f} | {pct(s, 99):.1f} | {max(s):.1f} |")


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10, help="seconds per run")
    ap.add_argument("--warmup", type=int, default=1,
                    help="seconds of the same load before each run, discarded (0: none)")
    ap.add_argument("--quick", action="store_true",
                    help="3 s runs, fewer propagation samples, at most 1,000 swaps")
    ap.add_argument("--only", default="", help="comma-separated scenarios (" +
                    ",".join(SCENARIOS + ["propagation", "endpoints", "memory", "swaps",
                                          "churn"]) + ")")
    ap.add_argument("--hosts", type=int, default=10_000, help="hosts in the many-hosts table")
    ap.add_argument("--prop-samples", type=int, default=100)
    ap.add_argument("--rate", type=int, default=5000,
                    help="requests per second of the fixed-rate scenario (every proxy)")
    ap.add_argument("--rate-conns", type=int, default=20,
                    help="keep-alive connections of the fixed-rate scenario")
    ap.add_argument("--swaps", type=int, default=10_000, help="route changes of `swaps`")
    ap.add_argument("--swap-hosts", type=int, default=1000,
                    help="Ingresses loaded during `swaps` (10000: the 10k-host table)")
    ap.add_argument("--swap-same-host", action="store_true",
                    help="`swaps` adds and removes the same host every cycle (default: a new one)")
    ap.add_argument("--swap-time-limit", type=float, default=1800,
                    help="seconds after which `swaps` stops (and says so)")
    ap.add_argument("--churn-changes", type=int, default=1000,
                    help="route changes of `churn` (awaited, under load)")
    ap.add_argument("--churn-seconds", type=int, default=30,
                    help="seconds of load in `churn`; route changes stop 1 s before")
    ap.add_argument("--proxies", default=",".join(PROXIES), help="comma-separated subset")
    ap.add_argument("--floor", action="store_true",
                    help="also run the floors, minimal HTTP/1.1 proxies on tokio with a hand-written "
                         "codec and on hyper (benches/e2e/floor/), in keepalive, newconn and rate")
    ap.add_argument("--no-install", action="store_true")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--json", help="also write raw results here")
    ap.add_argument("--sluice-b", metavar="BINARY",
                    help="also run this sluice binary as proxy `sluice-b` (A/B of two builds)")
    ap.add_argument("--sluice-b-args", metavar="FLAGS", default="",
                    help="more `sluice gateway` flags for `sluice-b`, e.g. '--enable-metrics=false' "
                         "(without --sluice-b, sluice-b is the same build)")
    args = ap.parse_args()
    if args.quick:
        args.duration = min(args.duration, 3)
        args.warmup = min(args.warmup, 1)
        args.prop_samples = min(args.prop_samples, 20)
        args.swaps = min(args.swaps, 1000)
    only = set(filter(None, args.only.split(",")))
    PROXIES[:] = [p for p in PROXIES if p in args.proxies.split(",")]
    if args.sluice_b or args.sluice_b_args:
        PROXIES.insert(1, "sluice-b")
    if args.floor:
        PROXIES.extend(FLOORS)
    scenarios = [s for s in SCENARIOS if not only or s in only]

    ensure_tools(args.no_install, "rate" in scenarios)
    binary = build_sluice(args.no_build or "sluice" not in PROXIES)
    env = Env(binary)
    if args.sluice_b:
        env.binaries["sluice-b"] = os.path.abspath(args.sluice_b)
    env.extra_args["sluice-b"] = shlex.split(args.sluice_b_args)
    if args.floor:
        env.binaries.update(build_floors(args.no_build))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    results, prop, mem, shift, swap_runs, churn_runs = {}, [], {}, [], [], []
    rate = (args.rate, args.rate_conns)
    try:
        script = os.path.join(env.dir, "random-hosts.lua")
        with open(script, "w") as f:
            f.write(configs.WRK_RANDOM_HOSTS.format(n=args.hosts))
        plain = {name: start_proxy(env, name) for name in PROXIES} if any(
            s != "hosts10k" for s in scenarios) else {}
        many = {}
        if "hosts10k" in scenarios:
            for name in [p for p in PROXIES if p not in FLOORS]:
                log(f"loading {args.hosts} hosts into {name}")
                many[name] = start_proxy(env, name, hosts=args.hosts)
        # Warm-up: one short keep-alive run through each, and straight to the origin.
        for proxy in list(plain.values()) + list(many.values()):
            run_wrk(f"http://127.0.0.1:{proxy.ports['http']}/", 1, 50,
                    script=script if proxy in many.values() else None)
        for rnd in range(args.rounds):
            k = rnd % len(PROXIES)
            order = PROXIES[k:] + PROXIES[:k]
            for sc in scenarios:
                for name in order:
                    if name in FLOORS and sc not in FLOOR_SCENARIOS:
                        continue
                    proxy = many[name] if sc == "hosts10k" else plain[name]
                    r = measure(env, proxy, sc, args.duration,
                                script=script if sc == "hosts10k" else None, rate=rate,
                                warmup=args.warmup)
                    results.setdefault((sc, name), []).append(r)
                    log(f"round {rnd + 1} {sc:9} {name:7} {r['rps']:9.0f} rps "
                        f"{r['cpu_us_per_req'] or 0:7.2f} µs/req cpu "
                        f"(kernel {r.get('sys_us_per_req') or 0:5.2f}) {r['cpu_util'] * 100:4.0f}% "
                        f"p99 {r['p99_us'] or 0:8.0f} µs errors {r['errors']}"
                        + (f" p50 {r['p50_us'] or 0:.0f} µs p99.9 {r['p999_us'] or 0:.0f} µs"
                           if sc == "rate" else ""))
                if sc == "keepalive":
                    t0 = time.monotonic()
                    d = run_wrk(f"http://127.0.0.1:{env.origin_port}/", args.duration, 50)
                    el = time.monotonic() - t0
                    results.setdefault((sc, "direct"), []).append(
                        {"requests": d["requests"], "errors": d["errors"],
                         "rps": d["requests"] / el, "cpu_us_per_req": None,
                         "p99_us": d["p99_us"], "upstream_reuse": None})
                if sc == "rate":
                    results.setdefault((sc, "direct"), []).append(
                        direct_rate(env, args.duration, rate))
        for proxy in list(plain.values()) + list(many.values()):
            proxy.stop()
        if (not only or "propagation" in only) and "sluice" in PROXIES:
            for loaded in (100, args.hosts):
                log(f"propagation with {loaded} Ingresses loaded")
                prop.append(propagation(env, loaded, args.prop_samples))
        if (not only or "endpoints" in only) and "sluice" in PROXIES:
            for loaded in (100, args.hosts):
                log(f"endpoint shift with {loaded} Ingresses loaded")
                shift.append(endpoint_shift(env, loaded, args.prop_samples))
        if not only or "memory" in only:
            log("memory at 1k and 10k hosts")
            mem = memory(env, [1000, args.hosts])
        if (not only or "swaps" in only) and "sluice" in PROXIES:
            log(f"{args.swaps} route swaps with {args.swap_hosts} Ingresses loaded")
            swap_runs.append(swaps(env, args.swap_hosts, args.swaps, args.swap_time_limit,
                                   args.swap_same_host))
        if (not only or "churn" in only) and "sluice" in PROXIES:
            log(f"{args.churn_changes} route changes and endpoint churn under load")
            churn_runs.append(churn(env, args.swap_hosts, args.churn_changes, args.churn_seconds))
    finally:
        env.close()
    text = report(results, args.rounds, args.duration, prop, mem, shift, rate, swap_runs,
                  args.warmup, churn_runs)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": {f"{k[0]}/{k[1]}": v for k, v in results.items()},
                       "propagation": prop,
                       "endpoint_shift": shift,
                       "memory": {f"{k[0]}/{k[1]}": v for k, v in mem.items()},
                       "swaps": swap_runs, "churn": churn_runs}, f, indent=1)


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all()
