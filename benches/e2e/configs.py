"""Configuration text for the origin, nginx, HAProxy and sluice in the end-to-end bench.

Every proxy is configured as the same reverse proxy: one worker, the upstream request headers
ingress-nginx's template sets on every location (and sluice sets by default: `X-Request-ID`,
`X-Real-IP`, `X-Forwarded-For/-Host/-Port/-Proto/-Scheme`, `X-Scheme`, no `Proxy`), HTTP/1.1 keep-alive to the
origin (upstream connection reuse) with room for 1,024 idle upstream connections (the h2c
scenario keeps 1,000 requests in flight; HAProxy's pool is unbounded), no access log, up to
100,000 requests per client and per upstream connection, TLS with the same ECDSA P-256 certificate and no session resumption
(full handshakes), h2c on a plain port.
"""

import base64

KEEPALIVE_REQUESTS = 100_000
UPSTREAM_IDLE = 1024


# ingress-nginx's `proxy_set_header` lines (its nginx.tmpl, defaults: generate-request-id on,
# use-forwarded-headers off), which sluice's forwarded-headers filter reproduces.
NGINX_FORWARDED = """    proxy_set_header X-Request-ID $request_id;
    proxy_set_header X-Real-IP $remote_addr;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Forwarded-Host $http_host;
    proxy_set_header X-Forwarded-Port $server_port;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-Scheme $scheme;
    proxy_set_header X-Scheme $scheme;
    proxy_set_header Proxy "";
"""

# The same headers in HAProxy (a v4 UUID as the request id, as HAProxy has no 32-hex one).
HAPROXY_FORWARDED = """    http-request set-header X-Request-ID %[uuid]
    http-request set-header X-Real-IP %[src]
    http-request set-header X-Forwarded-For %[src]
    http-request set-header X-Forwarded-Host %[req.hdr(host)]
    http-request set-header X-Forwarded-Port %[dst_port]
    http-request set-header X-Forwarded-Proto %[ssl_fc,iif(https,http)]
    http-request set-header X-Forwarded-Scheme %[ssl_fc,iif(https,http)]
    http-request set-header X-Scheme %[ssl_fc,iif(https,http)]
    http-request del-header Proxy
"""


def origin_nginx(port, status_port, prefix):
    """A tiny fast origin: nginx answering `200 ok` from memory, plus stub_status."""
    return f"""
worker_processes 1;
pid {prefix}/origin.pid;
error_log {prefix}/origin-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests {KEEPALIVE_REQUESTS * 10};
    keepalive_timeout 300s;
    client_body_temp_path {prefix}/tmp;
    proxy_temp_path {prefix}/tmp;
    fastcgi_temp_path {prefix}/tmp;
    uwsgi_temp_path {prefix}/tmp;
    scgi_temp_path {prefix}/tmp;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{ default_type text/plain; return 200 "ok\\n"; }}
    }}
    server {{
        listen 127.0.0.1:{status_port};
        location / {{ stub_status; }}
    }}
}}
"""


def nginx_proxy(ports, origin_port, prefix, cert, key, hosts=0):
    """nginx as a tuned reverse proxy (upstream keepalive, HTTP/1.1 upstream, logs off).

    With `hosts`, one `server` block per host (as ingress-nginx generates) on the plain port
    instead of the catch-all.
    """
    if hosts:
        servers = "\n".join(
            f"    server {{ listen 127.0.0.1:{ports['http']}; server_name host-{i}.example.com;"
            f" location / {{ proxy_pass http://origin; }} }}"
            for i in range(hosts)
        )
        servers += f"\n    server {{ listen 127.0.0.1:{ports['http']} default_server; return 404; }}"
    else:
        servers = f"""
    server {{
        listen 127.0.0.1:{ports['http']} backlog=4096;
        location / {{ proxy_pass http://origin; }}
    }}
    server {{
        listen 127.0.0.1:{ports['h2c']} http2 backlog=4096;
        location / {{ proxy_pass http://origin; }}
    }}
    server {{
        listen 127.0.0.1:{ports['https']} ssl backlog=4096;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache off;
        ssl_session_tickets off;
        location / {{ proxy_pass http://origin; }}
    }}"""
    return f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    keepalive_requests {KEEPALIVE_REQUESTS};
    keepalive_timeout 300s;
    server_names_hash_max_size 65536;
    server_names_hash_bucket_size 128;
    client_body_temp_path {prefix}/tmp;
    proxy_temp_path {prefix}/tmp;
    fastcgi_temp_path {prefix}/tmp;
    uwsgi_temp_path {prefix}/tmp;
    scgi_temp_path {prefix}/tmp;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $http_host;
{NGINX_FORWARDED}    proxy_buffering on;
    upstream origin {{
        server 127.0.0.1:{origin_port};
        keepalive {UPSTREAM_IDLE};
        keepalive_requests {KEEPALIVE_REQUESTS};
        keepalive_timeout 300s;
    }}
{servers}
}}
"""


def haproxy(ports, origin_port, pem, hosts_map=None):
    """HAProxy with one thread, `http-reuse always`, no logging, no TLS resumption."""
    if hosts_map:
        routing = f"    use_backend %[req.hdr(host),lower,map({hosts_map},be_404)]\n"
    else:
        routing = "    default_backend origin\n"
    return f"""
global
    nbthread 1
    maxconn 8000
    tune.ssl.cachesize 0
    ssl-default-bind-options no-tls-tickets

defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-keep-alive 300s
    option http-keep-alive

frontend fe_http
    bind 127.0.0.1:{ports['http']}
{routing}
frontend fe_h2c
    bind 127.0.0.1:{ports['h2c']} proto h2
    default_backend origin

frontend fe_https
    bind 127.0.0.1:{ports['https']} ssl crt {pem} alpn http/1.1 no-tls-tickets
    default_backend origin

backend origin
    http-reuse always
{HAPROXY_FORWARDED}    server o1 127.0.0.1:{origin_port} maxconn 0

backend be_404
    http-request return status 404
"""


def sluice_common(origin_port, cert_pem, key_pem):
    """The Service, its EndpointSlice, the TLS Secret and the ConfigMap every sluice run uses."""
    crt = base64.b64encode(cert_pem).decode()
    key = base64.b64encode(key_pem).decode()
    return f"""apiVersion: v1
kind: Service
metadata:
  name: origin
  namespace: default
spec:
  ports:
  - port: 80
    protocol: TCP
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: origin-1
  namespace: default
  labels:
    kubernetes.io/service-name: origin
addressType: IPv4
ports:
- port: {origin_port}
  protocol: TCP
endpoints:
- addresses: ["127.0.0.1"]
  conditions:
    ready: true
---
apiVersion: v1
kind: Secret
metadata:
  name: bench-tls
  namespace: default
type: kubernetes.io/tls
data:
  tls.crt: {crt}
  tls.key: {key}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: sluice
  namespace: default
data:
  keep-alive-requests: "{KEEPALIVE_REQUESTS}"
  upstream-keepalive-requests: "{KEEPALIVE_REQUESTS}"
  upstream-keepalive-timeout: "300"
  upstream-keepalive-connections: "{UPSTREAM_IDLE}"
  keep-alive: "300"
  ssl-session-cache: "false"
  ssl-session-tickets: "false"
"""


def sluice_ingress(name, host=None, path="/"):
    """One Ingress of class `sluice` routing `host` (any host when None) `path` to `origin`."""
    rule = f'  - host: "{host}"\n    http:\n' if host else "  - http:\n"
    return f"""---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: default
spec:
  ingressClassName: sluice
  rules:
{rule}      paths:
      - path: {path}
        pathType: Prefix
        backend:
          service:
            name: origin
            port:
              number: 80
"""


def sluice_hosts(n):
    """`n` Ingresses, one host each (`host-<i>.example.com`), all to `origin`."""
    return "".join(sluice_ingress(f"ing-{i}", f"host-{i}.example.com") for i in range(n))


WRK_RANDOM_HOSTS = """-- One of {n} hosts, uniformly at random, per request.
local n = {n}
request = function()
  local h = "host-" .. math.random(0, n - 1) .. ".example.com"
  return wrk.format("GET", "/", {{ ["Host"] = h }})
end
"""
