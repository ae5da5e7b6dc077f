-- wrk script: replays pre-built requests and reports the figures as one JSON line.
--
--   wrk ... -s bench/replay.lua http://127.0.0.1:PORT -- REQUESTS_FILE
--
-- REQUESTS_FILE has one request a line: METHOD <tab> PATH <tab> TOKEN <tab> BODY (TOKEN and
-- BODY may be empty). Requests are formatted once in init(); each thread walks the list
-- round-robin from its own offset. Every response outside 2xx is counted (wrk itself only
-- counts >= 400).

-- BENCH_CONNECT=ADDRESS: connect there, whatever the URL's host resolves to. The URL's host
-- still names the TLS server (SNI) and the Host header: the edge refuses a handshake for any
-- other name, and wrk sends no SNI when the URL holds an IP address.
local connect_to = os.getenv("BENCH_CONNECT")
if connect_to then
  function wrk.resolve(host, service)
    wrk.addrs = wrk.lookup(connect_to, service)
  end
end

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local requests = {}
local index = 1
non2xx = 0
statuses = {}

function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    local method, path, token, body = line:match("^([^\t]+)\t([^\t]+)\t([^\t]*)\t(.*)$")
    local headers = {}
    if token ~= "" then
      headers["Authorization"] = "Bearer " .. token
    end
    if body ~= "" then
      headers["Content-Type"] = "application/json"
    else
      body = nil
    end
    requests[#requests + 1] = wrk.format(method, path, headers, body)
  end
  file:close()
  index = ((id or 1) * 7919) % #requests + 1
end

function request()
  local built = requests[index]
  index = index % #requests + 1
  return built
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    statuses[tostring(status)] = (statuses[tostring(status)] or 0) + 1
  end
end

function done(summary, latency, requests)
  local other, by_status = 0, {}
  for _, thread in ipairs(threads) do
    other = other + (thread:get("non2xx") or 0)
    for status, count in pairs(thread:get("statuses") or {}) do
      by_status[status] = (by_status[status] or 0) + count
    end
  end
  local listed = {}
  for status, count in pairs(by_status) do
    listed[#listed + 1] = string.format('"%s": %d', status, count)
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, '
      .. '"read": %d, "write": %d, "status": %d, "timeout": %d, "non2xx": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, "statuses": {%s}}\n',
    summary.requests, summary.duration, summary.bytes, errors.connect, errors.read,
    errors.write, errors.status, errors.timeout, other,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, table.concat(listed, ", ")))
end
