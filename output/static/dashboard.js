/* Tapir dashboard: plain DOM and Chart.js (Debian's libjs-chart.js, served by tapir
 * itself at /static/chart.js). Every value from the API is put into the page as text
 * (textContent, or Chart.js labels drawn on a canvas), never as markup. */
'use strict';
(function () {
  const TOKEN_KEY = 'tapir.token';
  const PAGE = 50;
  const MAX_BINS = 60;
  const CATEGORIES = ['anomaly', 'portscan', 'hostscan', 'synflood', 'udpflood', 'icmpflood',
    'amplification', 'bruteforce', 'beacon', 'tunnel', 'exfil', 'webattack'];
  const DETECTORS = ['forest', 'limit', 'denylist', 'conversation', 'risk', 'rate'];
  const COLORS = ['#64748b', '#3b82f6', '#06b6d4', '#ef4444', '#f97316', '#eab308', '#a855f7',
    '#db2777', '#10b981', '#0ea5e9', '#b91c1c', '#7c3aed'];
  const empty = () => ({ status: 'new', ip: '', min: '', category: '', detector: '' });
  const st = { offset: 0, total: 0, timer: 0, busy: false, filter: empty(), recent: [],
    chart: null, hostChart: null, bins: null, since: 0, suppress: null };
  const $ = (id) => document.getElementById(id);

  function el(tag, cls, ...kids) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    for (const k of kids) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
  function fmtTime(t) { return t ? String(t).replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : '\u2013'; }
  function fmtShort(t) { return t ? fmtTime(t).slice(5, 16) : '\u2013'; }
  function fmtNum(v) {
    if (v === null || v === undefined || typeof v !== 'number' || !isFinite(v)) return '\u2013';
    const a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(1) + 'G';
    if (a >= 1e6) return (v / 1e6).toFixed(1) + 'M';
    if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k';
    if (Number.isInteger(v)) return String(v);
    return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toPrecision(2);
  }
  function toast(msg, err) {
    const t = $('toast');
    t.textContent = msg;
    t.className = 'toast' + (err ? ' err' : '');
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
  }

  function fmtScore(v) { return typeof v === 'number' && isFinite(v) ? v.toFixed(3) : '\u2013'; }

  class AuthError extends Error {}
  class NotFound extends Error {}
  async function api(path, method, json) {
    const headers = {};
    const tok = localStorage.getItem(TOKEN_KEY);
    if (tok) headers['Authorization'] = 'Bearer ' + tok;
    const init = { method: method || 'GET', headers, cache: 'no-store' };
    if (json !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(json);
    }
    const r = await fetch(path, init);
    if (r.status === 401) throw new AuthError('the server wants a valid token');
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (r.status === 429) throw new Error('rate limited; retrying at the next refresh');
    if (r.status === 404) throw new NotFound((body && body.error) || 'not found');
    if (!r.ok) throw new Error((body && body.error) || ('HTTP ' + r.status));
    return body;
  }
  /* An endpoint this server may not have (an older tapir): null when it answers 404. */
  async function apiOptional(path) {
    try { return await api(path); } catch (e) { if (e instanceof NotFound) return null; throw e; }
  }

  /* ---- token dialog ---- */
  function askToken(msg) {
    const d = $('token-dialog');
    if (d.open) return;
    $('token-msg').textContent = msg || 'This server asks for a bearer token. It is kept in this browser\'s local storage and sent with every API request.';
    $('token-input').value = '';
    d.showModal();
    $('token-input').focus();
  }
  function initToken() {
    $('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = $('token-input').value.trim();
      if (v) localStorage.setItem(TOKEN_KEY, v);
      $('token-dialog').close();
      refresh();
    });
    $('token-cancel').addEventListener('click', () => $('token-dialog').close());
    $('token-forget').addEventListener('click', () => {
      localStorage.removeItem(TOKEN_KEY);
      $('token-dialog').close();
      toast('Token forgotten');
      refresh();
    });
    $('btn-token').addEventListener('click', () => askToken());
  }

  /* ---- small renderers ---- */
  function sevClass(s) { return s >= 0.8 ? 'sev-high' : s >= 0.7 ? 'sev-mid' : 'sev-low'; }
  function scoreCell(s) {
    const w = el('div', 'score');
    if (typeof s !== 'number') { w.append('\u2013'); return w; }
    const bar = el('div', 'bar'), fill = el('span', sevClass(s));
    fill.style.width = Math.max(2, Math.min(100, s * 100)).toFixed(0) + '%';
    bar.append(fill);
    w.append(el('b', null, s.toFixed(3)), bar);
    return w;
  }
  function geoText(g) {
    if (!g) return '\u2013';
    return g.country || '\u2013';
  }
  function geoTitle(g) {
    if (!g) return '';
    const parts = [];
    if (g.asn) parts.push('AS' + g.asn);
    if (g.as_org) parts.push(g.as_org);
    return parts.join(' ');
  }
  function isPrefix(ip) { return String(ip).indexOf('/') >= 0; }
  function ipLink(ip) {
    const b = el('button', 'link mono', ip);
    b.type = 'button';
    if (isPrefix(ip)) {
      b.title = 'show alerts for this prefix';
      b.addEventListener('click', () => { setFilter(Object.assign(empty(), { status: '', ip: ip })); });
    } else {
      b.title = 'host details';
      b.addEventListener('click', () => openHost(ip));
    }
    return b;
  }
  function features(list) {
    const w = el('div');
    for (const f of list || []) {
      const chip = el('span', 'feat', f.name + ' ', el('b', null, fmtNum(f.value)), el('em', null, ' / ' + fmtNum(f.baseline)));
      if (typeof f.contribution === 'number') chip.title = 'share of the isolation: ' + (f.contribution * 100).toFixed(0) + '%';
      w.append(chip);
    }
    if (!w.firstChild) w.append(el('span', 'muted', '\u2013'));
    return w;
  }
  function emptyRow(tbody, cols, text) {
    const td = el('td', 'empty', text);
    td.colSpan = cols;
    tbody.append(el('tr', null, td));
  }

  /* ---- alerts table ---- */
  function alertRow(a, compact) {
    const tr = el('tr');
    const cc = el('td', 'nowrap', geoText(a.geo));
    cc.title = geoTitle(a.geo);
    tr.append(el('td', 'nowrap mono', compact ? fmtShort(a.timestamp) : fmtTime(a.timestamp)));
    if (!compact) tr.append(el('td', 'num', a.alert_id), el('td', null, ipLink(a.ip)));
    tr.append(el('td', null, el('span', 'badge side-' + a.side, a.side)),
              el('td', null, el('span', 'badge cat', a.category || 'anomaly')),
              el('td', 'nowrap', a.detector || '\u2013'),
              el('td', null, scoreCell(a.score)));
    if (!compact) tr.append(cc);
    tr.append(el('td', null, features(a.top_features)));
    if (!compact) tr.append(el('td', 'nowrap', (a.l7 || []).join(', ') || '\u2013'));
    tr.append(el('td', null, el('span', 'badge st-' + a.status, a.status)));
    if (!compact) {
      const act = el('td', 'actions');
      if (a.status === 'new') {
        const ack = el('button', 'btn small', 'Ack');
        ack.type = 'button';
        ack.title = 'acknowledge';
        ack.addEventListener('click', () => change(a.alert_id, 'ack', ack));
        act.append(ack);
      }
      if (a.status !== 'suppressed') {
        const sup = el('button', 'btn small ghost', 'Suppress');
        sup.type = 'button';
        sup.title = 'silence this address (or prefix) with a reason, for a while';
        sup.addEventListener('click', () => askSuppress(a));
        act.append(sup);
      }
      const del = el('button', 'btn small danger', 'Delete');
      del.type = 'button';
      del.addEventListener('click', () => {
        if (confirm('Delete alert ' + a.alert_id + ' (' + a.ip + ')? This cannot be undone.')) change(a.alert_id, 'delete', del);
      });
      act.append(del);
      tr.append(act);
    }
    return tr;
  }
  async function change(id, what, btn) {
    btn.disabled = true;
    try {
      if (what === 'ack') await api('/api/alerts/' + encodeURIComponent(id) + '/ack', 'POST');
      else await api('/api/alerts/' + encodeURIComponent(id), 'DELETE');
      toast('Alert ' + id + (what === 'ack' ? ' acknowledged' : ' deleted'));
      await refresh();
    } catch (e) {
      btn.disabled = false;
      if (e instanceof AuthError) askToken(e.message); else toast(e.message, true);
    }
  }
  /* ---- suppress dialog ---- */
  function askSuppress(a) {
    st.suppress = a;
    $('supp-title').textContent = 'Suppress alert ' + a.alert_id;
    $('supp-ip').textContent = a.ip;
    $('supp-reason').value = '';
    $('supp-dialog').showModal();
    $('supp-reason').focus();
  }
  function initSuppress() {
    $('supp-cancel').addEventListener('click', () => $('supp-dialog').close());
    $('supp-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const a = st.suppress, reason = $('supp-reason').value.trim();
      if (!a || !reason) { toast('a reason is required', true); return; }
      const body = { reason };
      if ($('supp-for').value) body.for = $('supp-for').value;
      $('supp-ok').disabled = true;
      try {
        const r = await api('/api/alerts/' + encodeURIComponent(a.alert_id) + '/suppress', 'POST', body);
        $('supp-dialog').close();
        toast(r.network + ' suppressed ' + (r.expires ? 'until ' + fmtTime(r.expires) : 'for good') +
          ' (' + r.alerts_marked + ' stored alerts marked)');
        await refresh();
      } catch (e) {
        if (e instanceof AuthError) askToken(e.message); else toast(e.message, true);
      } finally {
        $('supp-ok').disabled = false;
      }
    });
  }

  function alertsQuery() {
    const p = new URLSearchParams();
    const f = st.filter;
    if (f.status) p.set('status', f.status);
    if (f.ip) p.set('ip', f.ip);
    if (f.min) p.set('min_score', f.min);
    if (f.category) p.set('category', f.category);
    if (f.detector) p.set('detector', f.detector);
    if (st.since) p.set('since', st.since);
    p.set('limit', PAGE);
    p.set('offset', st.offset);
    return '/api/alerts?' + p.toString();
  }
  function renderAlerts(res) {
    const tb = $('alerts-table').tBodies[0];
    clear(tb);
    st.total = res.total;
    for (const a of res.alerts) tb.append(alertRow(a, false));
    if (!res.alerts.length) emptyRow(tb, 12, 'No alerts match.');
    const first = res.alerts.length ? st.offset + 1 : 0;
    $('page-info').textContent = first + '\u2013' + (st.offset + res.alerts.length) + ' of ' + res.total;
    $('prev').disabled = st.offset === 0;
    $('next').disabled = st.offset + res.alerts.length >= res.total;
  }
  function setFilter(f) {
    st.filter = f;
    st.offset = 0;
    $('f-status').value = f.status;
    $('f-ip').value = f.ip;
    $('f-min').value = f.min;
    $('f-category').value = f.category;
    $('f-detector').value = f.detector;
    refresh();
  }

  /* ---- hosts ---- */
  function renderHosts(res) {
    const tb = $('hosts-table').tBodies[0];
    clear(tb);
    for (const h of res.hosts) {
      const tr = el('tr');
      const cc = el('td', 'nowrap', geoText(h.geo));
      cc.title = geoTitle(h.geo);
      tr.append(el('td', null, ipLink(h.ip)), el('td', null, scoreCell(h.max_score)),
                el('td', 'num', h.alerts), cc, el('td', 'nowrap mono', fmtShort(h.last_seen)));
      tb.append(tr);
    }
    if (!res.hosts.length) emptyRow(tb, 5, 'No hosts stored yet.');
  }
  async function openHost(ip) {
    let h;
    try {
      h = await api('/api/hosts/' + encodeURIComponent(ip));
    } catch (e) {
      if (e instanceof AuthError) askToken(e.message); else toast(ip + ': ' + e.message, true);
      return;
    }
    $('d-title').textContent = h.ip;
    const body = $('d-body');
    clear(body);
    const kv = el('div', 'kv');
    const g = h.geo || {};
    const rows = [['Country', g.country || '\u2013'], ['AS', g.asn ? 'AS' + g.asn : '\u2013'],
      ['AS organisation', g.as_org || '\u2013'], ['First seen (UTC)', fmtTime(h.first_seen)],
      ['Last seen (UTC)', fmtTime(h.last_seen)], ['Last score', fmtScore(h.last_score)],
      ['Max score', fmtScore(h.max_score)], ['Windows seen', h.windows_seen], ['Alerts', h.alerts]];
    for (const [k, v] of rows) kv.append(el('div', null, k), el('div', 'mono', v));
    body.append(kv);
    body.append(el('div', 'card-head', el('h2', null, 'Score timeline'),
      el('span', 'muted', 'its alerts\u2019 scores and thresholds, UTC')));
    const canvas = el('canvas');
    canvas.id = 'host-chart';
    body.append(el('div', 'host-chart', canvas));
    const show = el('button', 'btn ghost', 'Show all alerts for this host');
    show.type = 'button';
    show.addEventListener('click', () => { closeHost(); setFilter(Object.assign(empty(), { status: '', ip: h.ip })); });
    body.append(el('div', 'card-head', el('h2', null, 'Recent alerts'), el('span', 'spacer'), show));
    const tbl = el('table', 'tbl');
    const head = el('tr');
    for (const t of ['Time (UTC)', 'Side', 'Category', 'Detector', 'Score', 'Why', 'Status'])
      head.append(el('th', null, t));
    tbl.append(el('thead', null, head));
    const tb = el('tbody');
    for (const a of h.recent_alerts || []) tb.append(alertRow(a, true));
    if (!(h.recent_alerts || []).length) emptyRow(tb, 7, 'No alerts stored for this host.');
    tbl.append(tb);
    body.append(el('div', 'scroll', tbl));
    $('drawer').hidden = false;
    hostTimeline(h.ip, canvas);
    if (location.hash !== '#host=' + encodeURIComponent(h.ip)) history.replaceState(null, '', '#host=' + encodeURIComponent(h.ip));
  }
  function closeHost() {
    $('drawer').hidden = true;
    if (location.hash) history.replaceState(null, '', location.pathname);
  }

  /* ---- charts (Chart.js) ---- */
  function fmtAxis(ms, long) {
    const s = new Date(ms).toISOString();
    return long ? s.slice(5, 10) + ' ' + s.slice(11, 16) : s.slice(11, 16);
  }
  function fmtDuration(ms) {
    const s = ms / 1000;
    if (s < 120) return s.toFixed(0) + ' s';
    if (s < 7200) return (s / 60).toFixed(0) + ' min';
    if (s < 172800) return (s / 3600).toFixed(1).replace(/\.0$/, '') + ' h';
    return (s / 86400).toFixed(1).replace(/\.0$/, '') + ' days';
  }
  /* Alerts per time bin and category. A bin is a whole number of analysis windows (the
   * most common window length among the alerts) and bins are aligned to multiples of
   * their width, so each window falls in exactly one bin: no half-empty comb of bars
   * when bins and windows disagree. Each alert counts in the bin of its window's start. */
  function binAlerts(alerts, maxBins) {
    const lens = new Map();
    const times = [];
    for (const a of alerts) {
      const ws = Date.parse(a.window_start), we = Date.parse(a.window_end);
      if (isFinite(ws) && isFinite(we) && we > ws) lens.set(we - ws, (lens.get(we - ws) || 0) + 1);
      const t = isFinite(ws) ? ws : Date.parse(a.timestamp);
      if (isFinite(t)) times.push([t, a.category || 'anomaly']);
    }
    if (!times.length) return null;
    let win = 60000, best = 0;
    for (const [len, n] of lens) if (n > best || (n === best && len < win)) { best = n; win = len; }
    let lo = Infinity, hi = -Infinity;
    for (const [t] of times) { lo = Math.min(lo, t); hi = Math.max(hi, t); }
    let width = win;
    for (const m of [1, 2, 3, 5, 10, 15, 20, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080, 43200]) {
      width = win * m;
      if (Math.floor(hi / width) - Math.floor(lo / width) + 1 <= maxBins) break;
    }
    while (Math.floor(hi / width) - Math.floor(lo / width) + 1 > maxBins) width *= 2;
    const first = Math.floor(lo / width), n = Math.floor(hi / width) - first + 1;
    const counts = new Map();
    for (const [t, cat] of times) {
      if (!counts.has(cat)) counts.set(cat, new Array(n).fill(0));
      counts.get(cat)[Math.floor(t / width) - first]++;
    }
    const starts = Array.from({ length: n }, (_, i) => (first + i) * width);
    return { window: win, width, starts, counts };
  }
  function drawChart() {
    const b = binAlerts(st.recent, MAX_BINS);
    st.bins = b;
    if (!b) {
      if (st.chart) { st.chart.destroy(); st.chart = null; }
      $('chart-hint').textContent = 'No alerts in this range.';
      return;
    }
    const long = b.starts[b.starts.length - 1] - b.starts[0] > 36 * 3600e3;
    const labels = b.starts.map((t) => fmtAxis(t, long));
    const datasets = CATEGORIES.filter((c) => b.counts.has(c)).concat(
      [...b.counts.keys()].filter((c) => CATEGORIES.indexOf(c) < 0)).map((c) => ({
      label: c, data: b.counts.get(c), stack: 'alerts',
      backgroundColor: COLORS[Math.max(0, CATEGORIES.indexOf(c)) % COLORS.length],
    }));
    if (st.chart) {
      st.chart.data.labels = labels;
      st.chart.data.datasets = datasets;
      st.chart.update('none');
    } else {
      st.chart = new Chart($('chart'), {
        type: 'bar',
        data: { labels, datasets },
        options: {
          animation: false, responsive: true, maintainAspectRatio: false,
          scales: { x: { stacked: true, grid: { display: false } },
            y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
          plugins: {
            legend: { position: 'bottom', labels: { boxWidth: 10 } },
            tooltip: { callbacks: { title: (items) => {
              const i = items[0].dataIndex, s = st.bins.starts[i];
              return fmtAxis(s, true) + ' \u2013 ' + fmtAxis(s + st.bins.width, true) + ' UTC';
            } } },
          },
          onClick: (ev, els) => {
            if (!els.length) return;
            const c = st.chart.data.datasets[els[0].datasetIndex].label;
            setFilter(Object.assign({}, st.filter, { category: c }));
          },
        },
      });
    }
    $('chart-hint').textContent = st.recent.length + ' alerts in bins of ' + fmtDuration(b.width) +
      ' (windows of ' + fmtDuration(b.window) + '); click a bar to filter by its category' +
      (st.recent.length >= 1000 ? ' (the newest 1000 shown)' : '');
  }
  async function hostTimeline(ip, canvas) {
    let res;
    try {
      res = await api('/api/alerts?limit=1000&ip=' + encodeURIComponent(ip));
    } catch (e) {
      toast(ip + ': ' + e.message, true);
      return;
    }
    const pts = res.alerts.filter((a) => typeof a.score === 'number')
      .map((a) => ({ x: Date.parse(a.window_end), y: a.score, th: a.threshold }))
      .filter((p) => isFinite(p.x)).sort((p, q) => p.x - q.x);
    if (st.hostChart) { st.hostChart.destroy(); st.hostChart = null; }
    if (!pts.length) return;
    const long = pts[pts.length - 1].x - pts[0].x > 36 * 3600e3;
    st.hostChart = new Chart(canvas, {
      type: 'line',
      data: { datasets: [
        { label: 'score', data: pts.map((p) => ({ x: p.x, y: p.y })), borderColor: '#ef4444',
          backgroundColor: '#ef4444', pointRadius: 3, tension: 0 },
        { label: 'threshold', data: pts.filter((p) => typeof p.th === 'number').map((p) => ({ x: p.x, y: p.th })),
          borderColor: '#94a3b8', borderDash: [4, 4], pointRadius: 0, stepped: true },
      ] },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, parsing: false,
        scales: {
          x: { type: 'linear', ticks: { maxTicksLimit: 6, callback: (v) => fmtAxis(v, long) } },
          y: { min: 0, max: 1 },
        },
        plugins: { legend: { position: 'bottom', labels: { boxWidth: 10 } },
          tooltip: { callbacks: { title: (items) => fmtAxis(items[0].parsed.x, true) + ' UTC',
            label: (item) => item.dataset.label + ' ' + item.parsed.y.toFixed(3) } } },
      },
    });
  }

  /* ---- suppressions and incidents ---- */
  function renderSuppressions(res) {
    const tb = $('supp-table').tBodies[0];
    clear(tb);
    $('supp-card').hidden = res === null;
    if (!res) return;
    for (const s of res.suppressions) {
      const end = el('button', 'btn small ghost', 'End');
      end.type = 'button';
      end.title = 'end this suppression now';
      end.addEventListener('click', async () => {
        if (!confirm('End the suppression of ' + s.network + ' now?')) return;
        end.disabled = true;
        try {
          await api('/api/suppressions/' + encodeURIComponent(s.id), 'DELETE');
          toast('Suppression of ' + s.network + ' ended');
          await refresh();
        } catch (e) {
          end.disabled = false;
          if (e instanceof AuthError) askToken(e.message); else toast(e.message, true);
        }
      });
      tb.append(el('tr', null, el('td', 'mono', s.network),
        el('td', 'nowrap mono', s.expires ? fmtTime(s.expires) : 'never'),
        el('td', 'nowrap', s.created_by || '\u2013'), el('td', null, s.reason),
        el('td', 'actions', end)));
    }
    if (!res.suppressions.length) emptyRow(tb, 5, 'None.');
  }
  const INCIDENT_COLS = [['incident_id', 'ID'], ['ip', 'IP'], ['side', 'Side'],
    ['direction', 'Direction'], ['category', 'Category'], ['severity', 'Severity'],
    ['status', 'Status'], ['start', 'Start (UTC)'], ['last_seen', 'Last (UTC)'],
    ['end', 'Ended (UTC)'], ['windows', 'Windows'], ['alert_count', 'Alerts'],
    ['peak_score', 'Peak score'], ['detectors', 'Detectors']];
  /* GET /api/incidents (docs/http.md): shown when the server has it (tapir serve on an
   * older build answers 404), with the columns its objects carry. */
  function renderIncidents(res) {
    const card = $('incidents-card');
    const list = res && (Array.isArray(res) ? res : res.incidents);
    card.hidden = !Array.isArray(list);
    if (card.hidden) return;
    const keys = new Set();
    for (const i of list) for (const k of Object.keys(i)) keys.add(k);
    const cols = INCIDENT_COLS.filter(([k]) => keys.has(k));
    const head = $('incidents-table').tHead.rows[0];
    clear(head);
    for (const [, t] of cols) head.append(el('th', null, t));
    const tb = $('incidents-table').tBodies[0];
    clear(tb);
    for (const i of list.slice(0, 50)) {
      const tr = el('tr');
      for (const [k] of cols) {
        const v = i[k];
        let cell;
        if (k === 'ip' && typeof v === 'string') cell = el('td', null, ipLink(v));
        else if (k === 'peak_score') cell = el('td', null, fmtScore(v));
        else if (k === 'detectors' && Array.isArray(v)) cell = el('td', null, v.join(', '));
        else if (/^(start|last_seen|end)$/.test(k)) cell = el('td', 'nowrap mono', fmtTime(v));
        else cell = el('td', null, v === null || v === undefined ? '\u2013' : typeof v === 'object' ? JSON.stringify(v) : v);
        tr.append(cell);
      }
      tb.append(tr);
    }
    if (!list.length) emptyRow(tb, Math.max(1, cols.length), 'No incidents.');
  }

  /* ---- refresh ---- */
  function setHealth(ok, text) {
    $('health-dot').className = 'dot ' + (ok ? 'ok' : 'bad');
    $('health-text').textContent = text;
  }
  async function refresh() {
    if (st.busy) return;
    st.busy = true;
    try {
      let health;
      try {
        const r = await fetch('/health', { cache: 'no-store' });
        health = await r.json();
        setHealth(r.ok, r.ok ? 'online \u00b7 v' + health.version : 'HTTP ' + r.status);
      } catch (e) {
        setHealth(false, 'server unreachable');
        return;
      }
      /* The range ends at the newest stored alert (packet time), so a replayed capture
       * from last month shows as well as a live sensor. */
      const newest = await api('/api/alerts?limit=1');
      const latest = newest.alerts.length ? Date.parse(newest.alerts[0].timestamp) : NaN;
      const range = Number($('range').value);
      st.since = range > 0 && isFinite(latest) ? Math.floor(latest / 1000) - range : 0;
      const sq = st.since ? '&since=' + st.since : '';
      const f = st.filter;
      const cq = (f.category ? '&category=' + encodeURIComponent(f.category) : '') +
        (f.detector ? '&detector=' + encodeURIComponent(f.detector) : '');
      const [n, a, s, recent, hosts, page, supp, inc] = await Promise.all([
        api('/api/alerts?status=new&limit=1' + sq), api('/api/alerts?status=acked&limit=1' + sq),
        api('/api/alerts?status=suppressed&limit=1' + sq), api('/api/alerts?limit=1000' + sq + cq),
        api('/api/hosts?flagged=1&limit=10'), api(alertsQuery()),
        apiOptional('/api/suppressions'), apiOptional('/api/incidents?limit=50')]);
      $('st-new').textContent = n.total;
      $('st-acked').textContent = a.total;
      $('st-suppressed').textContent = s.total;
      st.recent = recent.alerts;
      const scores = recent.alerts.map((x) => x.score).filter((x) => typeof x === 'number');
      $('st-max').textContent = scores.length ? Math.max(...scores).toFixed(3) : '\u2013';
      $('st-last').textContent = newest.alerts.length ? fmtTime(newest.alerts[0].timestamp) : '\u2013';
      renderHosts(hosts);
      renderAlerts(page);
      renderSuppressions(supp);
      renderIncidents(inc);
      drawChart();
      $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    } catch (e) {
      if (e instanceof AuthError) askToken(localStorage.getItem(TOKEN_KEY) ? 'The saved token was refused. Enter the current one.' : null);
      else toast(e.message, true);
    } finally {
      st.busy = false;
    }
  }
  function schedule() {
    clearInterval(st.timer);
    const s = Number($('refresh').value);
    if (s > 0) st.timer = setInterval(() => { if (!document.hidden) refresh(); }, s * 1000);
  }

  function init() {
    for (const [id, list] of [['f-category', CATEGORIES], ['f-detector', DETECTORS]])
      for (const v of list) { const o = el('option', null, v); o.value = v; $(id).append(o); }
    initToken();
    initSuppress();
    $('range').addEventListener('change', () => { st.offset = 0; refresh(); });
    $('refresh').addEventListener('change', schedule);
    $('btn-refresh').addEventListener('click', refresh);
    $('filters').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const min = $('f-min').value.trim();
      if (min && !(Number(min) >= 0 && Number(min) <= 1)) { toast('min score is a number from 0 to 1', true); return; }
      setFilter({ status: $('f-status').value, ip: $('f-ip').value.trim(), min,
        category: $('f-category').value, detector: $('f-detector').value });
    });
    for (const id of ['f-status', 'f-category', 'f-detector'])
      $(id).addEventListener('change', () => $('filters').requestSubmit());
    $('f-clear').addEventListener('click', () => setFilter(Object.assign(empty(), { status: '' })));
    $('prev').addEventListener('click', () => { st.offset = Math.max(0, st.offset - PAGE); refresh(); });
    $('next').addEventListener('click', () => { st.offset += PAGE; refresh(); });
    $('d-close').addEventListener('click', closeHost);
    document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') closeHost(); });
    window.addEventListener('hashchange', hashHost);
    schedule();
    refresh().then(hashHost);
  }
  /* #host=IP opens that host's details (a link an operator can share). */
  function hashHost() {
    const m = /^#host=(.+)$/.exec(location.hash);
    if (m) openHost(decodeURIComponent(m[1]));
  }
  /* For the headless-browser test (tests/e2e/dashboard_browser.sh) and the console. */
  window.tapirDash = { binAlerts, refresh, get chart() { return st.chart; },
    get hostChart() { return st.hostChart; }, get bins() { return st.bins; } };
  if (typeof Chart === 'undefined') {
    setHealth(false, 'chart library not loaded (/static/chart.js)');
    return;
  }
  init();
})();
