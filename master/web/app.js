/* Bramble dashboard: one page, no libraries. It reads the cluster state from
 * the master's /api/stream (Server-Sent Events) and a container's log from
 * /api/logs. Every name, label and log line comes from the cluster and is
 * untrusted: text only ever reaches the page through textContent or
 * setAttribute, never as markup. */
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const LOG_LINES_MAX = 2000;
  const FLAGS = [
    ['under_voltage', 'UNDER-VOLTAGE'],
    ['throttled', 'THROTTLED'],
    ['freq_capped', 'FREQ CAPPED'],
    ['soft_temp_limit', 'SOFT TEMP LIMIT'],
  ];

  let state = null; // the last /api/state document
  let stateES = null;
  let lastStateAt = 0; // when the last state event arrived (local clock)
  let retryTimer = 0;
  let signedOut = false;

  // ---- small DOM helpers: text only ----

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function cell(tr, label, content, cls) {
    const td = el('td', cls);
    td.setAttribute('data-label', label);
    if (content instanceof Node) td.appendChild(content);
    else td.textContent = content === undefined || content === null ? '–' : String(content);
    tr.appendChild(td);
    return td;
  }

  function badge(text, kind, title) {
    const b = el('span', 'badge ' + kind, text);
    if (title) b.title = title;
    return b;
  }

  function group(cls, items) {
    const s = el('span', cls);
    for (const i of items) s.appendChild(i);
    return s;
  }

  // ---- formatting ----

  function bytes(n) {
    if (typeof n !== 'number' || !isFinite(n)) return '–';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) {
      n /= 1024;
      i++;
    }
    return (i === 0 || n >= 100 ? n.toFixed(0) : n.toFixed(1)) + ' ' + u[i];
  }

  function usedOf(total, free) {
    if (typeof total !== 'number' || typeof free !== 'number') return '–';
    return bytes(total - free) + ' / ' + bytes(total);
  }

  function duration(ms) {
    if (typeof ms !== 'number' || !isFinite(ms) || ms < 0) return '–';
    const s = Math.floor(ms / 1000), m = Math.floor(s / 60), h = Math.floor(m / 60), d = Math.floor(h / 24);
    if (d) return d + 'd ' + (h % 24) + 'h';
    if (h) return h + 'h ' + (m % 60) + 'm';
    if (m) return m + 'm ' + (s % 60) + 's';
    return s + 's';
  }

  function percent(x) {
    return typeof x === 'number' ? x.toFixed(x < 10 ? 1 : 0) + '%' : '–';
  }

  function clock(ms) {
    return new Date(ms).toLocaleTimeString([], { hour12: false });
  }

  function stateKind(s) {
    if (s === 'running' || s === 'healthy' || s === 'Ready') return 'ok';
    if (s === 'failed' || s === 'backoff' || s === 'unhealthy' || s === 'NotReady') return 'bad';
    if (s === 'pending' || s === 'starting') return 'warn';
    return 'muted';
  }

  // ---- the state's derived views ----

  function containersByNode() {
    const m = new Map();
    for (const c of state.containers || []) {
      let e = m.get(c.node);
      if (!e) m.set(c.node, (e = { run: 0, all: [] }));
      e.all.push(c);
      if (c.state === 'running') e.run++;
    }
    return m;
  }

  // State and scheduling: Ready / NotReady, cordoned / draining.
  function stateBadges(n) {
    const out = [badge(n.state, n.state === 'Ready' ? 'ok' : 'bad')];
    if (n.schedule) out.push(badge(n.schedule, 'warn', 'no new containers are placed here'));
    return out;
  }

  // Power and heat: red for what happens now, amber for what has happened
  // since boot; and a node that cannot keep its state on disk.
  function troubleBadges(n) {
    const out = [], t = n.throttle;
    if (t) {
      for (const [k, label] of FLAGS) {
        if (t[k]) out.push(badge(label, 'bad', 'now'));
        else if (t[k + '_occurred']) out.push(badge(label + ' since boot', 'warn', 'has happened since the node booted'));
      }
    }
    if (n.persist_error) out.push(badge('STATE NOT PERSISTED', 'bad', n.persist_error));
    return out;
  }

  function tempCell(n) {
    const s = el('span', 'badges');
    if (typeof n.temp_celsius === 'number') {
      const c = n.temp_celsius;
      s.appendChild(el('span', c >= 80 ? 'bad-text' : c >= 70 ? 'warn-text' : '', c.toFixed(1) + ' °C'));
    } else {
      s.appendChild(el('span', 'muted', '–'));
    }
    for (const b of troubleBadges(n)) s.appendChild(b);
    return s;
  }

  function matchesFilter(n, f) {
    if (f.state && n.state !== f.state) return false;
    if (f.label) {
      const want = f.label.trim();
      const labels = n.labels || [];
      if (want.includes('=')) return labels.includes(want);
      return labels.some((l) => l.split('=')[0] === want);
    }
    return true;
  }

  function byName(a, b) {
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  }

  // ---- rendering ----

  function renderHeader() {
    const nodes = state.nodes || [], ctrs = state.containers || [], svcs = state.services || [];
    const ready = nodes.filter((n) => n.state === 'Ready').length;
    $('c-nodes').textContent = ready + '/' + nodes.length;
    $('c-nodes').parentNode.className = 'count' + (ready < nodes.length ? ' bad' : '');
    $('c-ctrs').textContent = ctrs.filter((c) => c.state === 'running').length + '/' + ctrs.length;
    $('c-svcs').textContent = String(svcs.length);
    $('asof').textContent = state.time_ms ? 'as of ' + clock(state.time_ms) : '';

    // Loud: nodes down and power or heat trouble happening now.
    const alerts = [];
    for (const n of nodes.slice().sort(byName)) {
      const now = [];
      if (n.state !== 'Ready') now.push(n.state);
      for (const [k, label] of FLAGS) if (n.throttle && n.throttle[k]) now.push(label);
      if (now.length) alerts.push(n.name + ': ' + now.join(', '));
    }
    if (!signedOut) {
      $('alert').hidden = alerts.length === 0;
      $('alert').textContent = alerts.join(' · ');
    }
  }

  // How the node reaches the master: "wlan0 -61 dBm", "eth0".
  function linkText(n) {
    if (!n.net_iface) return null;
    return n.net_iface + (typeof n.wifi_signal_dbm === 'number' ? ' ' + n.wifi_signal_dbm + ' dBm' : '');
  }

  // The OS update a node reports, when it is not simply its committed
  // version: "writing 40%", "rolled-back", with the reason as the title.
  const UPDATE_KIND = { committed: 'ok', failed: 'bad', 'rolled-back': 'bad' };
  function updateBadge(n) {
    const u = n.update;
    if (!u || !u.state || u.state === 'committed') return null;
    let text = u.state;
    if (u.bytes_total > 0 && (u.state === 'downloading' || u.state === 'writing'))
      text += ' ' + Math.floor((100 * (u.bytes_done || 0)) / u.bytes_total) + '%';
    const title = [u.version ? 'to ' + u.version : '', u.reason].filter(Boolean).join(': ');
    return badge(text, UPDATE_KIND[u.state] || 'warn', title);
  }

  // "1.4.2 · b" (the image's version and the root slot it booted).
  function versionCell(n) {
    const v = [n.os_version, n.slot ? 'slot ' + n.slot : ''].filter(Boolean).join(' · ');
    const u = updateBadge(n);
    if (!u) return v || null;
    return group('', [el('span', '', v ? v + ' ' : ''), u]);
  }

  function renderNodes(f) {
    const tbody = $('nodes'), per = containersByNode();
    const all = (state.nodes || []).slice().sort(byName);
    const shown = all.filter((n) => matchesFilter(n, f));
    const rows = [];
    for (const n of shown) {
      const tr = el('tr', n.state === 'Ready' ? '' : 'down');
      const a = el('a', 'name', n.name);
      a.href = '#node=' + encodeURIComponent(n.name);
      cell(tr, 'Name', a);
      cell(tr, 'State', group('badges', stateBadges(n)));
      cell(tr, 'Version', versionCell(n));
      cell(tr, 'Model', n.model || n.arch);
      cell(tr, 'Temp', tempCell(n));
      cell(tr, 'Network', linkText(n));
      cell(tr, 'CPU', percent(n.cpu_percent), 'num');
      cell(tr, 'Memory', usedOf(n.mem_total_bytes, n.mem_available_bytes), 'num');
      cell(tr, 'Disk', usedOf(n.disk_total_bytes, n.disk_free_bytes), 'num');
      cell(tr, 'Uptime', duration(n.uptime_ms), 'num');
      const c = per.get(n.name) || { run: 0, all: [] };
      cell(tr, 'Containers', c.run + '/' + c.all.length, 'num');
      cell(tr, 'Labels', group('labels', (n.labels || []).map((l) => el('span', 'label', l))));
      tr.addEventListener('click', (e) => {
        if (e.target.tagName !== 'A') location.hash = 'node=' + encodeURIComponent(n.name);
      });
      rows.push(tr);
    }
    tbody.replaceChildren(...rows);
    const empty = $('nodes-empty');
    empty.hidden = shown.length > 0;
    empty.textContent = all.length ? 'No node matches the filter.' : 'No nodes have joined yet.';
    $('f-shown').textContent = shown.length === all.length ? '' : shown.length + ' of ' + all.length + ' shown';
  }

  function renderServices() {
    const rows = [];
    for (const s of (state.services || []).slice().sort(byName)) {
      const tr = el('tr');
      cell(tr, 'Name', el('span', 'name', s.name));
      const kind = s.healthy >= s.desired ? 'ok' : s.healthy === 0 && s.desired > 0 ? 'bad' : 'warn';
      const r = group('', [badge(s.healthy + '/' + s.desired, kind, 'healthy / desired replicas')]);
      if (s.running !== s.healthy) r.appendChild(el('span', 'muted', ' ' + s.running + ' running'));
      cell(tr, 'Ready', r);
      cell(tr, 'Image', el('span', 'mono', s.image));
      const up = [s.update_state, s.update_reason].filter(Boolean).join(': ');
      const u = el('span', '', up || '–');
      if (s.pending_reason) u.appendChild(el('div', 'warn-text', 'pending: ' + s.pending_reason));
      cell(tr, 'Update', u);
      rows.push(tr);
    }
    $('services').replaceChildren(...rows);
    $('services').parentNode.hidden = rows.length === 0;
    $('services-empty').hidden = rows.length > 0;
  }

  function info(dl, k, v) {
    if (v === undefined || v === null || v === '') return;
    dl.appendChild(el('dt', '', k));
    const dd = el('dd');
    if (v instanceof Node) dd.appendChild(v);
    else dd.textContent = String(v);
    dl.appendChild(dd);
  }

  function renderNode(name) {
    const n = (state.nodes || []).find((x) => x.name === name);
    $('n-title').textContent = name;
    const dl = $('n-info');
    dl.replaceChildren();
    if (!n) {
      $('n-badges').replaceChildren(badge('no node named ' + name, 'bad'));
      $('n-ctrs').replaceChildren();
      $('n-ctrs-empty').hidden = true;
      return;
    }
    $('n-badges').replaceChildren(...stateBadges(n), ...troubleBadges(n));
    const now = state.time_ms || Date.now();
    info(dl, 'Model', n.model);
    info(dl, 'Serial', n.serial);
    info(dl, 'Arch', n.arch + (n.cpu_count ? ' · ' + n.cpu_count + ' CPUs' : ''));
    info(dl, 'Kernel', n.kernel);
    info(dl, 'OS', n.os);
    info(dl, 'Version', n.os_version);
    info(dl, 'Slot', n.slot);
    if (n.update && n.update.state) {
      const u = n.update;
      const what = [u.state, u.version ? (u.from_version ? u.from_version + ' → ' : '') + u.version : ''].filter(Boolean).join(' ');
      const d = group('', [badge(what, UPDATE_KIND[u.state] || 'warn')]);
      if (u.reason) d.appendChild(el('div', 'muted small', u.reason));
      info(dl, 'OS update', d);
    }
    info(dl, 'Agent', n.agent_version);
    info(dl, 'Runtime', n.runtime);
    if (n.cgroup_version) info(dl, 'cgroup', 'v' + n.cgroup_version + ((n.cgroup_controllers || []).length ? ': ' + n.cgroup_controllers.join(' ') : ''));
    if (n.memory_controller === false) info(dl, 'Memory limits', badge('no memory controller', 'warn'));
    info(dl, 'Connected', n.connected ? 'yes' : 'no');
    if (n.last_seen_ms) info(dl, 'Last seen', duration(now - n.last_seen_ms) + ' ago (' + clock(n.last_seen_ms) + ')');
    info(dl, 'Joined', n.created);
    info(dl, 'Uptime', n.uptime_ms !== undefined ? duration(n.uptime_ms) : null);
    if (typeof n.temp_celsius === 'number') info(dl, 'Temperature', n.temp_celsius.toFixed(1) + ' °C');
    info(dl, 'CPU', n.cpu_percent !== undefined ? percent(n.cpu_percent) : null);
    if (n.load1 !== undefined) info(dl, 'Load', n.load1 + ' ' + n.load5 + ' ' + n.load15);
    if (n.mem_total_bytes !== undefined) info(dl, 'Memory', usedOf(n.mem_total_bytes, n.mem_available_bytes));
    if (n.disk_total_bytes !== undefined) info(dl, 'Disk', usedOf(n.disk_total_bytes, n.disk_free_bytes));
    if (n.net_iface) info(dl, 'Link', [n.net_iface, n.net_addr, typeof n.wifi_signal_dbm === 'number' ? n.wifi_signal_dbm + ' dBm' : null].filter((x) => x).join(' · '));
    if (n.net_rx_bytes !== undefined) info(dl, 'Network', '↓ ' + bytes(n.net_rx_bytes) + ' ↑ ' + bytes(n.net_tx_bytes));
    if (n.agent_rss_bytes !== undefined) info(dl, 'Agent memory', bytes(n.agent_rss_bytes) + (n.shim_rss_bytes !== undefined ? ' (shims ' + bytes(n.shim_rss_bytes) + ')' : ''));
    if (n.persist_error) info(dl, 'State on disk', el('span', 'bad-text', n.persist_error));
    info(dl, 'Labels', group('labels', (n.labels || []).map((l) => el('span', 'label', l))));

    const ctrs = (containersByNode().get(name) || { all: [] }).all.slice().sort(byName);
    const rows = [];
    for (const c of ctrs) {
      const tr = el('tr');
      const a = el('a', 'name', c.name);
      a.href = '#logs=' + encodeURIComponent(name) + '/' + encodeURIComponent(c.name);
      a.title = 'follow its log';
      cell(tr, 'Name', a);
      cell(tr, 'Service', c.service);
      cell(tr, 'Image', el('span', 'mono', c.image));
      const st = group('', [badge(c.state, stateKind(c.state), c.reason || '')]);
      if (c.reason) st.appendChild(el('div', 'muted small', c.reason));
      cell(tr, 'State', st);
      cell(tr, 'Health', c.health ? badge(c.health, stateKind(c.health), c.health_log || '') : null);
      cell(tr, 'Restarts', c.restarts, 'num');
      cell(tr, 'OOM kills', c.oom_kills, c.oom_kills ? 'num bad-text' : 'num');
      cell(tr, 'Memory', c.memory_bytes === null ? null : bytes(c.memory_bytes), 'num');
      cell(tr, 'CPU', percent(c.cpu_percent), 'num');
      tr.addEventListener('click', (e) => {
        if (e.target.tagName !== 'A') location.hash = a.getAttribute('href').slice(1);
      });
      rows.push(tr);
    }
    $('n-ctrs').replaceChildren(...rows);
    $('n-ctrs').parentNode.hidden = rows.length === 0;
    $('n-ctrs-empty').hidden = rows.length > 0;
  }

  // ---- routing: everything the page shows is in the URL hash ----

  function route() {
    const p = new URLSearchParams(location.hash.slice(1));
    if (p.has('logs')) {
      const v = p.get('logs'), i = v.indexOf('/');
      return { view: 'logs', node: v.slice(0, i), ctr: v.slice(i + 1) };
    }
    if (p.has('node')) return { view: 'node', node: p.get('node') };
    return { view: 'overview', state: p.get('state') || '', label: p.get('label') || '' };
  }

  function show(view) {
    for (const v of ['overview', 'node', 'logs']) $('view-' + v).hidden = v !== view;
  }

  function render() {
    const r = route();
    show(r.view);
    if (r.view !== 'logs') closeLogs();
    if (r.view === 'logs') {
      document.title = r.ctr + ' · ' + r.node + ' · Bramble';
      openLogs(r.node, r.ctr);
    }
    if (!state) return;
    renderHeader();
    if (r.view === 'overview') {
      document.title = 'Bramble';
      if ($('f-state').value !== r.state) $('f-state').value = r.state;
      if (document.activeElement !== $('f-label')) $('f-label').value = r.label;
      renderNodes(r);
      renderServices();
    } else if (r.view === 'node') {
      document.title = r.node + ' · Bramble';
      renderNode(r.node);
    }
  }

  function filtersChanged() {
    const p = new URLSearchParams();
    if ($('f-state').value) p.set('state', $('f-state').value);
    if ($('f-label').value.trim()) p.set('label', $('f-label').value.trim());
    const s = p.toString();
    history.replaceState(null, '', s ? '#' + s : location.pathname + location.search);
    render();
  }

  // ---- the live state ----

  function setConn(kind, text) {
    const c = $('conn');
    c.dataset.state = kind;
    c.textContent = text;
    // What is shown may be out of date until the stream is back.
    document.body.classList.toggle('stale', kind !== 'live');
  }

  function applyState(doc) {
    state = doc;
    lastStateAt = Date.now();
    setConn('live', 'live');
    render();
  }

  // Why a request fails, for what EventSource cannot tell: its status and
  // the server's {"error": "..."}, or null if it would succeed.
  async function problem(url) {
    const ctl = new AbortController();
    try {
      const r = await fetch(url, { signal: ctl.signal, credentials: 'same-origin', cache: 'no-store' });
      if (r.ok) {
        ctl.abort();
        return null;
      }
      let msg = 'HTTP ' + r.status;
      try {
        const j = await r.json();
        if (j && typeof j.error === 'string') msg = j.error;
      } catch (e) {
        /* not JSON: keep the status */
      }
      return { status: r.status, msg: msg };
    } catch (e) {
      return { status: 0, msg: 'cannot reach the master' };
    }
  }

  function signOut() {
    signedOut = true;
    if (stateES) stateES.close();
    stateES = null;
    clearTimeout(retryTimer);
    clearTimeout(whoTimer);
    closeLogs();
    const msg = 'Signed out — run `bramble dashboard` for a new link';
    setConn('signed-out', 'signed out');
    $('alert').hidden = false;
    $('alert').textContent = msg;
    $('who').textContent = '';
  }

  function reconnectLater(ms) {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connectState, ms);
  }

  function connectState() {
    if (signedOut) return;
    if (stateES) stateES.close();
    const es = new EventSource('/api/stream');
    stateES = es;
    lastStateAt = Date.now();
    es.addEventListener('state', (e) => {
      if (es !== stateES) return;
      try {
        applyState(JSON.parse(e.data));
      } catch (err) {
        console.warn('bad state event', err);
      }
    });
    es.addEventListener('error', async () => {
      if (es !== stateES) return;
      setConn('reconnecting', 'reconnecting…');
      if (es.readyState !== EventSource.CLOSED) return; // EventSource retries by itself
      // Refused outright (an HTTP error): a 401 means the session ended.
      const p = await problem('/api/whoami');
      if (es !== stateES) return;
      if (p && p.status === 401) signOut();
      else reconnectLater(3000);
    });
  }

  // A connection can die without a word (a master's power cut): the stream
  // promises an event every heartbeat interval, so three missed mean it is
  // gone.
  setInterval(() => {
    if (signedOut || !stateES || !state) return;
    const every = Math.max(state.heartbeat_interval_ms || 10000, 1000);
    if (Date.now() - lastStateAt > 3 * every + 2000) {
      setConn('reconnecting', 'reconnecting…');
      connectState();
    }
  }, 1000);

  // The master ends the stream with the session (its token revoked or
  // expired), and the stream's retry is then refused; as well, ask who we
  // are every 15 s and just after the session is due to end.
  let whoTimer = 0;
  function whoamiLater(expires) {
    clearTimeout(whoTimer);
    let wait = 15000;
    if (expires) wait = Math.min(wait, Math.max(expires - Date.now() + 1000, 1000));
    whoTimer = setTimeout(whoami, wait);
  }

  async function whoami() {
    let expires = 0;
    try {
      const r = await fetch('/api/whoami', { credentials: 'same-origin', cache: 'no-store' });
      if (r.status === 401) return signOut();
      if (r.ok) {
        const w = await r.json();
        const parts = ['Signed in as ' + w.role];
        if (w.token) parts.push('token ' + w.token);
        if (w.expires_ms) parts.push('until ' + new Date(w.expires_ms).toLocaleString([], { hour12: false }));
        $('who').textContent = parts.join(' · ');
        expires = w.expires_ms;
      }
    } catch (e) {
      /* the footer stays as it is; the stream reports the connection */
    }
    if (!signedOut) whoamiLater(expires);
  }

  // ---- a container's log ----

  const log = {
    es: null,
    key: '',
    box: null,
    stick: true,
    queue: [],
    flushing: false,
    lastT: 0,
    atLast: new Set(),
    replaying: false,
    partial: null, // the line still open: {stream, msg}
  };

  function logState(text, kind) {
    const s = $('l-state');
    s.textContent = text;
    s.className = kind || 'muted';
  }

  function closeLogs() {
    if (log.es) log.es.close();
    log.es = null;
    log.key = '';
    log.queue = [];
  }

  function lineKey(d) {
    return d.stream + '\u0000' + d.line;
  }

  function queueLine(node) {
    log.queue.push(node);
    if (log.queue.length > LOG_LINES_MAX) log.queue.splice(0, log.queue.length - LOG_LINES_MAX);
    if (!log.flushing) {
      log.flushing = true;
      requestAnimationFrame(flushLog);
    }
  }

  function flushLog() {
    log.flushing = false;
    const box = $('log');
    if (!log.queue.length) return;
    const frag = document.createDocumentFragment();
    for (const n of log.queue) frag.appendChild(n);
    log.queue = [];
    box.appendChild(frag);
    let extra = box.childElementCount - LOG_LINES_MAX;
    while (extra-- > 0) box.firstElementChild.remove();
    if (log.stick) box.scrollTop = box.scrollHeight;
    $('l-follow').hidden = log.stick;
  }

  function onLogLine(d) {
    if (typeof d.line !== 'string') return;
    const t = typeof d.t === 'number' ? d.t : 0;
    // After a reconnect the tail comes again: skip what is already shown.
    if (log.replaying) {
      if (t < log.lastT || (t === log.lastT && log.atLast.delete(lineKey(d)))) return;
      if (t > log.lastT) log.replaying = false;
    }
    if (t !== log.lastT) {
      log.lastT = t;
      log.atLast.clear();
    }
    log.atLast.add(lineKey(d));
    // A line longer than the node's record comes in pieces: all but the
    // last are "partial", and they make one line here.
    const open = log.partial;
    log.partial = null;
    if (open && open.stream === d.stream) {
      open.msg.textContent += d.line;
      if (d.partial === true) log.partial = open;
      return;
    }
    const row = el('div', d.stream === 'stderr' ? 'l err' : 'l');
    row.appendChild(el('span', 't', t ? new Date(t).toLocaleTimeString([], { hour12: false }) : ''));
    const msg = row.appendChild(el('span', 'm', d.line));
    if (d.partial === true) log.partial = { stream: d.stream, msg: msg };
    queueLine(row);
  }

  function logMarker(text, kind) {
    log.partial = null;
    queueLine(el('div', 'l marker ' + (kind || ''), text));
  }

  function openLogs(node, ctr) {
    // Once per visit: a stream that ended stays ended (until "Reconnect"),
    // however often the state view redraws.
    const key = node + '/' + ctr;
    if (log.key === key) return;
    closeLogs();
    log.key = key;
    log.stick = true;
    log.lastT = 0;
    log.atLast.clear();
    log.replaying = false;
    log.partial = null;
    $('log').replaceChildren();
    $('l-title').textContent = ctr + ' on ' + node;
    $('l-back').href = '#node=' + encodeURIComponent(node);
    $('l-back').textContent = '← ' + node;
    $('l-again').hidden = true;
    $('l-follow').hidden = true;
    if (signedOut) return;
    const url = '/api/logs?' + new URLSearchParams({ node: node, container: ctr, tail: '200' });
    const es = new EventSource(url);
    log.es = es;
    let opened = false;
    logState('connecting…');
    es.addEventListener('open', () => {
      if (opened) {
        log.replaying = true;
        logMarker('— reconnected —');
      }
      opened = true;
      logState('following', 'ok-text');
    });
    es.addEventListener('log', (e) => {
      try {
        onLogLine(JSON.parse(e.data));
      } catch (err) {
        /* a malformed event is dropped */
      }
    });
    es.addEventListener('skipped', (e) => {
      let n = '?';
      try {
        n = JSON.parse(e.data).lines;
      } catch (err) {
        /* keep '?' */
      }
      logMarker('… ' + n + ' lines skipped: the viewer fell behind …', 'warn-text');
    });
    es.addEventListener('end', (e) => {
      let reason = 'the stream ended';
      try {
        reason = JSON.parse(e.data).reason || reason;
      } catch (err) {
        /* keep the default */
      }
      stopLog(es, 'ended: ' + reason, 'muted');
      logMarker('— ' + reason + ' —');
    });
    es.addEventListener('error', async (e) => {
      if (es !== log.es) return;
      if (e.data) {
        // An error the server sent inside the stream.
        let msg = e.data;
        try {
          msg = JSON.parse(e.data).error || msg;
        } catch (err) {
          /* plain text */
        }
        return stopLog(es, String(msg), 'bad-text');
      }
      if (es.readyState !== EventSource.CLOSED) return logState('reconnecting…', 'warn-text');
      const p = await problem(url);
      if (es !== log.es) return;
      if (p && p.status === 401) return signOut();
      stopLog(es, p ? p.msg : 'the log stream closed', 'bad-text');
    });
  }

  function stopLog(es, text, kind) {
    es.close();
    if (es !== log.es) return;
    log.es = null;
    logState(text, kind);
    $('l-again').hidden = false;
  }

  // ---- wiring ----

  function init() {
    $('f-state').addEventListener('change', filtersChanged);
    $('f-label').addEventListener('input', filtersChanged);
    $('filters').addEventListener('submit', (e) => e.preventDefault());
    window.addEventListener('hashchange', render);
    const box = $('log');
    box.addEventListener('scroll', () => {
      log.stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
      $('l-follow').hidden = log.stick;
    });
    $('l-follow').addEventListener('click', () => {
      log.stick = true;
      box.scrollTop = box.scrollHeight;
      $('l-follow').hidden = true;
    });
    $('l-again').addEventListener('click', () => {
      const r = route();
      log.key = '';
      if (r.view === 'logs') openLogs(r.node, r.ctr);
    });
    render();
    whoami();
    connectState();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
