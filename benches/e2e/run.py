#!/usr/bin/env python3
"""End-to-end bench: sluice gateway versus nginx and HAProxy, side by side, as ratios.

Each proxy runs one worker pinned to core 1 (`taskset -c 1`); the load generator and the
origin (nginx answering a fixed 200) share core 0. Scenarios run interleaved for several
rounds; each proxy's CPU time (utime + stime of all its processes and threads, from
/proc/<pid>/stat) is read before and after every run, giving CPU microseconds per request.
Everything listens on 127.0.0.1 on free ports; every started process is stopped by its pid.

Usage: benches/e2e/run.sh [--rounds N] [--quick] [--duration S] [--only SCENARIO,...]
"""

import argparse
import json
import os
import random
import re
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
SCENARIOS = ["keepalive", "newconn", "h2c", "tls", "hosts10k"]
STARTED = []  # every Popen we started, stopped by pid at exit


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- setup


def ensure_tools(skip_install):
    """Installs nginx, HAProxy, wrk and h2load from Debian packages when missing."""
    wanted = {"nginx": "nginx-light", "haproxy": "haproxy", "wrk": "wrk", "h2load": "nghttp2-client",
              "openssl": "openssl", "taskset": "util-linux"}
    missing = sorted({pkg for tool, pkg in wanted.items() if shutil.which(tool) is None})
    if not missing:
        return
    if skip_install:
        sys.exit(f"missing tools: {missing} (run without --no-install or install them)")
    log(f"installing {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)


def build_sluice(skip_build):
    binary = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")),
                          "release", "sluice")
    if not skip_build:
        log("building sluice (release)")
        subprocess.run(["cargo", "build", "--release", "--bin", "sluice"], cwd=ROOT, check=True)
    if not os.path.exists(binary) and not skip_build:
        sys.exit(f"no sluice binary at {binary}")
    return binary


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


def cpu_seconds(pid):
    """utime + stime of `pid` and its children, all threads, in seconds."""
    total = 0
    for p in family_pids(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        except OSError:
            pass
    return total / CLK_TCK


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
    else:
        manifests = os.path.join(d, "manifests")
        os.makedirs(manifests)
        with open(os.path.join(manifests, "common.yaml"), "w") as f:
            f.write(configs.sluice_common(env.origin_port,
                                          open(env.cert, "rb").read(), open(env.key, "rb").read()))
        with open(os.path.join(manifests, "routes.yaml"), "w") as f:
            f.write(configs.sluice_hosts(hosts) if hosts else configs.sluice_ingress("catch-all"))
        proc = start_sluice(env, manifests, p, os.path.join(d, "sluice.log"),
                            env.binaries.get(name, env.binary))
        p["h2c"] = p["http"]  # sluice serves HTTP/1.1 and h2c on one port
    proxy = Proxy(name, proc, p)
    proxy.dir = d
    wait_http(p["http"], probe_host, want=200)
    return proxy


def start_sluice(env, manifests, p, logfile, binary=None):
    cmd = [binary or env.binary, "gateway", "--manifests", manifests, "--bind-address", "127.0.0.1",
           "--http-port", str(p["http"]), "--https-port", str(p["https"]),
           "--admin-port", str(p["admin"]), "--admin-address", "127.0.0.1",
           "--configmap", "default/sluice", "--default-ssl-certificate", "default/bench-tls",
           "--access-log=false", "--shutdown-grace-period=0", "--shutdown-timeout=1"]
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


def measure(env, proxy, scenario, duration, script=None):
    """One run of `scenario` against `proxy`: requests, rps, CPU µs per request, p99."""
    p = proxy.ports
    before_cpu = cpu_seconds(proxy.pid)
    before_origin = env.origin_counters()
    t0 = time.monotonic()
    if scenario == "keepalive":
        r = run_wrk(f"http://127.0.0.1:{p['http']}/", duration, 50)
    elif scenario == "newconn":
        r = run_wrk(f"http://127.0.0.1:{p['http']}/", duration, 50, ["Connection: close"])
    elif scenario == "h2c":
        r = run_h2load(f"http://127.0.0.1:{p['h2c']}/", duration)
    elif scenario == "tls":
        r = run_wrk(f"https://127.0.0.1:{p['https']}/", duration, 50, ["Connection: close"])
    elif scenario == "hosts10k":
        r = run_wrk(f"http://127.0.0.1:{p['http']}/", duration, 50, script=script)
    else:
        raise ValueError(scenario)
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds(proxy.pid) - before_cpu
    after_origin = env.origin_counters()
    accepts = after_origin[0] - before_origin[0] - 1  # minus the stub_status connection
    upstream = after_origin[1] - before_origin[1] - 1
    reqs = r["requests"]
    return {
        "requests": reqs,
        "errors": r["errors"],
        "rps": reqs / elapsed if elapsed else 0,
        "cpu_us_per_req": cpu * 1e6 / reqs if reqs else None,
        "cpu_util": cpu / elapsed if elapsed else 0,
        "p99_us": r["p99_us"],
        "upstream_reuse": (1 - accepts / upstream) if upstream > 0 else None,
        "rss_kib": rss_kib(proxy.pid),
    }


# ---------------------------------------------------------------- propagation and memory


class Client:
    """One keep-alive connection to a proxy's HTTP port, opened again after an error."""

    def __init__(self, port):
        self.port = port
        self.conn = self._open()

    def _open(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)

    def get(self, host):
        """`GET /` for `host`: the read response, or None when the request failed."""
        try:
            self.conn.request("GET", "/", headers={"Host": host})
            resp = self.conn.getresponse()
            resp.read()
            return resp
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = self._open()
            return None

    def until(self, host, t0, done, expected):
        """Polls `host` every millisecond until `done(response)`: (ms since `t0`, or None after
        30 s; answers before that which `expected(response)` refuses, None for a failure)."""
        bad = 0
        while True:
            resp = self.get(host)
            if resp is not None and done(resp):
                return (time.monotonic() - t0) * 1000, bad
            if not expected(resp):
                bad += 1
            if time.monotonic() > t0 + 30:
                return None, bad + 1
            time.sleep(0.001)

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
    """Write a new Ingress file next to `loaded` Ingresses, poll every ms until routed."""
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


def shift_slice(port):
    """The one EndpointSlice of Service `shift`, pointing at `port` on loopback."""
    return f"""apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: shift-1
  namespace: default
  labels:
    kubernetes.io/service-name: shift
addressType: IPv4
ports:
- port: {port}
  protocol: TCP
endpoints:
- addresses: ["127.0.0.1"]
  conditions:
    ready: true
"""


def endpoint_shift(env, loaded, samples):
    """Rewrite one Service's EndpointSlice between two origins next to `loaded` Ingresses;
    poll every ms until requests reach the new one."""
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
        for name in PROXIES:
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


def report(results, rounds, duration, prop, mem, shift=()):
    lines = []
    add = lines.append
    add(f"\n## sluice e2e bench: {rounds} interleaved rounds, {duration}s per run, proxies on "
        f"core {PROXY_CORE}, load generator and origin on core {LOAD_CORE}")
    add(f"loadavg at end: {open('/proc/loadavg').read().strip()}\n")
    add("| scenario | proxy | rps median [range] | CPU µs/req median [range] | p99 µs (wrk) "
        "| upstream reuse | errors |")
    add("|---|---|---|---|---|---|---|")
    for sc in SCENARIOS:
        for name in PROXIES + ["direct"]:
            runs = results.get((sc, name))
            if not runs:
                continue
            reuse = [r["upstream_reuse"] for r in runs if r["upstream_reuse"] is not None]
            add(f"| {sc} | {name} | {fmt_range([r['rps'] for r in runs], 0)} | "
                f"{fmt_range([r['cpu_us_per_req'] for r in runs], 2)} | "
                f"{fmt_range([r['p99_us'] for r in runs], 0)} | "
                f"{(f'{min(reuse) * 100:.3f}% (min)') if reuse else '-'} | "
                f"{sum(r['errors'] for r in runs)} |")
    add("\n| scenario | CPU/req sluice÷nginx median [range over rounds] | sluice÷HAProxy "
        "| p99 sluice÷nginx |")
    add("|---|---|---|---|")
    for sc, me in [(sc, me) for sc in SCENARIOS for me in ("sluice", "sluice-b")]:
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
        add(f"| {sc}{' (sluice-b)' if me == 'sluice-b' else ''} | " + " | ".join(cells) + " |")
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
            add(f"| {n} hosts | " + " | ".join(f"{mem[(p, n)] / 1024:.1f} MiB" for p in PROXIES)
                + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10, help="seconds per run")
    ap.add_argument("--quick", action="store_true", help="3 s runs, fewer propagation samples")
    ap.add_argument("--only", default="", help="comma-separated scenarios (" +
                    ",".join(SCENARIOS + ["propagation", "endpoints", "memory"]) + ")")
    ap.add_argument("--hosts", type=int, default=10_000, help="hosts in the many-hosts table")
    ap.add_argument("--prop-samples", type=int, default=100)
    ap.add_argument("--proxies", default=",".join(PROXIES), help="comma-separated subset")
    ap.add_argument("--no-install", action="store_true")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--json", help="also write raw results here")
    ap.add_argument("--sluice-b", metavar="BINARY",
                    help="also run this sluice binary as proxy `sluice-b` (A/B of two builds)")
    args = ap.parse_args()
    if args.quick:
        args.duration = min(args.duration, 3)
        args.prop_samples = min(args.prop_samples, 20)
    only = set(filter(None, args.only.split(",")))
    PROXIES[:] = [p for p in PROXIES if p in args.proxies.split(",")]
    if args.sluice_b:
        PROXIES.insert(1, "sluice-b")
    scenarios = [s for s in SCENARIOS if not only or s in only]

    ensure_tools(args.no_install)
    binary = build_sluice(args.no_build or "sluice" not in PROXIES)
    env = Env(binary)
    if args.sluice_b:
        env.binaries["sluice-b"] = os.path.abspath(args.sluice_b)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    results, prop, mem, shift = {}, [], {}, []
    try:
        script = os.path.join(env.dir, "random-hosts.lua")
        with open(script, "w") as f:
            f.write(configs.WRK_RANDOM_HOSTS.format(n=args.hosts))
        plain = {name: start_proxy(env, name) for name in PROXIES} if any(
            s != "hosts10k" for s in scenarios) else {}
        many = {}
        if "hosts10k" in scenarios:
            for name in PROXIES:
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
                    proxy = many[name] if sc == "hosts10k" else plain[name]
                    r = measure(env, proxy, sc, args.duration,
                                script=script if sc == "hosts10k" else None)
                    results.setdefault((sc, name), []).append(r)
                    log(f"round {rnd + 1} {sc:9} {name:7} {r['rps']:9.0f} rps "
                        f"{r['cpu_us_per_req'] or 0:7.2f} µs/req cpu {r['cpu_util'] * 100:4.0f}% "
                        f"p99 {r['p99_us'] or 0:8.0f} µs errors {r['errors']}")
                if sc == "keepalive":
                    t0 = time.monotonic()
                    d = run_wrk(f"http://127.0.0.1:{env.origin_port}/", args.duration, 50)
                    el = time.monotonic() - t0
                    results.setdefault((sc, "direct"), []).append(
                        {"requests": d["requests"], "errors": d["errors"],
                         "rps": d["requests"] / el, "cpu_us_per_req": None,
                         "p99_us": d["p99_us"], "upstream_reuse": None})
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
    finally:
        env.close()
    text = report(results, args.rounds, args.duration, prop, mem, shift)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": {f"{k[0]}/{k[1]}": v for k, v in results.items()},
                       "propagation": prop,
                       "endpoint_shift": shift,
                       "memory": {f"{k[0]}/{k[1]}": v for k, v in mem.items()}}, f, indent=1)


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all()
