// The chat page: gets a bearer token from POST /api/session, sends chats, shows answers, sources,
// the remaining quota, how long a question has been waiting, and friendly messages for 429 and
// 503.
(function () {
  'use strict';
  var token = sessionStorage.getItem('sluice-token');
  var log = document.getElementById('log');
  var notice = document.getElementById('notice');
  var send = document.getElementById('send');
  var waitingBox = document.getElementById('waiting');

  // While a question is pending the page says so, with the seconds it has waited. Past a few
  // seconds it is most likely in the server's queue (20 answers at once, 2 per user), which
  // holds it up to a minute rather than refusing it.
  var BUSY_AFTER_S = 3;
  function startWaiting() {
    var started = Date.now();
    function tick() {
      var s = Math.floor((Date.now() - started) / 1000);
      waitingBox.textContent = 'Waiting for an answer… ' + s + ' s' + (s >= BUSY_AFTER_S
        ? ' (the service is busy: your question waits in line for a free slot)' : '');
      waitingBox.setAttribute('data-seconds', String(s));
    }
    tick();
    waitingBox.hidden = false;
    var timer = setInterval(tick, 1000);
    return function stop() {
      clearInterval(timer);
      waitingBox.hidden = true;
      waitingBox.textContent = '';
      waitingBox.removeAttribute('data-seconds');
    };
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function show(kind, text) {
    notice.innerHTML = '';
    if (text) notice.appendChild(el('div', 'notice ' + kind, text));
  }

  function retryAfter(res, body) {
    var h = res.headers.get('Retry-After');
    var n = h ? parseInt(h, 10) : (body && body.retryAfterSeconds);
    return isNaN(n) || n === undefined ? 1 : n;
  }

  function quota(q) {
    if (!q) return;
    var when = q.resetsAt ? new Date(q.resetsAt).toLocaleString() : '';
    document.getElementById('quota').textContent =
      'Quota: ' + q.remaining + ' of ' + q.limit + ' left (resets ' + when + ')';
  }

  async function session() {
    if (token) return token;
    var res = await fetch('/api/session', { method: 'POST' });
    var body = await res.json().catch(function () { return {}; });
    if (!res.ok) throw { res: res, body: body };
    token = body.token;
    sessionStorage.setItem('sluice-token', token);
    return token;
  }

  async function api(path, payload) {
    var t = await session();
    var res = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Authorization': 'Bearer ' + t },
      body: JSON.stringify(payload)
    });
    if (res.status === 401) {           // token expired: get a new one once
      token = null; sessionStorage.removeItem('sluice-token');
      t = await session();
      res = await fetch(path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Authorization': 'Bearer ' + t },
        body: JSON.stringify(payload)
      });
    }
    return res;
  }

  function explain(res, body) {
    var s = retryAfter(res, body);
    if (res.status === 429 && body.error === 'quota_exceeded') {
      var when = body.resetsAt ? new Date(body.resetsAt).toLocaleString() : 'tomorrow';
      quota({ remaining: 0, limit: body.limit, resetsAt: body.resetsAt });
      show('bad', 'Daily quota used up (' + body.used + ' of ' + body.limit +
        ') — it resets ' + when + '.');
    } else if (res.status === 429) {
      show('warn', 'Rate limited — try again in ' + s + ' s.');
    } else if (res.status === 503 && body && body.error === 'literature_unavailable') {
      show('warn', body.message || ('The literature service is unavailable — try again in ' + s +
        ' s.'));
    } else if (res.status === 503) {
      show('warn', 'Busy — please wait ' + s + ' s and try again.');
    } else {
      show('bad', (body && body.message) || ('Error ' + res.status));
    }
  }

  document.getElementById('chat-form').addEventListener('submit', async function (ev) {
    ev.preventDefault();
    var input = document.getElementById('message');
    var text = input.value.trim();
    if (!text) return;
    send.disabled = true;
    show('', '');
    log.appendChild(el('div', 'msg user', text));
    var stopWaiting = startWaiting();
    try {
      var res = await api('/api/chat', { message: text,
        useRAG: document.getElementById('rag').checked });
      var body = await res.json().catch(function () { return {}; });
      if (res.ok) {
        var m = el('div', 'msg bot answer');
        m.appendChild(el('div', '', body.answer));
        if (body.sources && body.sources.length) {
          var src = el('div', 'sources');
          src.appendChild(el('strong', '', 'Sources: '));
          body.sources.forEach(function (s, i) {
            var a = el('a', '', s.title + ' (' + s.journal + ', ' + s.pubdate + ')');
            a.href = s.url; a.target = '_blank'; a.rel = 'noopener';
            if (i) src.appendChild(document.createTextNode('; '));
            src.appendChild(a);
          });
          m.appendChild(src);
        }
        log.appendChild(m);
        quota(body.quota);
        input.value = '';
      } else {
        explain(res, body);
      }
    } catch (e) {
      if (e && e.res) explain(e.res, e.body); else show('bad', 'Network error — is the app running?');
    } finally {
      stopWaiting();
      send.disabled = false;
    }
  });

  async function exportAs(format) {
    var res = await api('/api/export', { format: format });
    if (!res.ok) { explain(res, await res.json().catch(function () { return {}; })); return; }
    var blob = await res.blob();
    var a = el('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'conversation.' + (format === 'csv' ? 'csv' : 'md');
    a.click();
  }
  document.getElementById('export-md').addEventListener('click', function () { exportAs('markdown'); });
  document.getElementById('export-csv').addEventListener('click', function () { exportAs('csv'); });
})();
