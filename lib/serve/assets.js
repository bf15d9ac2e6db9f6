/* cdx.js: the script of cdx serve's pages (no framework, nothing fetched
 * from elsewhere).  It follows the page's event stream (body data-events)
 * and, when something happened, fetches the page again and swaps its
 * parts marked data-swap; it streams job logs (pre data-log) as text; and
 * it sends the action buttons' POSTs with the session's CSRF token.
 * Values are only ever inserted as text or as nodes of a page the server
 * escaped. */
(function () {
  'use strict';
  var meta = document.querySelector('meta[name="cdx-csrf"]');
  var state = document.getElementById('live-state');
  var timer = null;
  function flash(msg, bad) {
    var f = document.getElementById('flash');
    f.textContent = msg;
    f.className = 'flash' + (bad ? ' bad' : ' ok');
    f.hidden = false;
  }
  function stream(pre) {
    if (pre.dataset.streaming) return;
    pre.dataset.streaming = '1';
    var es = new EventSource(pre.dataset.log);
    es.onmessage = function (e) {
      var stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.appendChild(document.createTextNode(JSON.parse(e.data)));
      if (stick) pre.scrollTop = pre.scrollHeight;
    };
  }
  function act(btn) {
    if (btn.dataset.confirm && !window.confirm(btn.dataset.confirm)) return;
    var h = {};
    if (meta) h['X-CSRF-Token'] = meta.content;
    btn.disabled = true;
    fetch(btn.dataset.action, { method: 'POST', credentials: 'same-origin', headers: h })
      .then(function (r) { return r.json().then(function (j) { return [r.status, j]; }); })
      .then(function (x) {
        if (x[0] === 200) flash(x[1].done + ' (' + x[1].by + ')', false);
        else flash(x[1].error || ('HTTP ' + x[0]), true);
        btn.disabled = false;
        refresh();
      })
      .catch(function (e) { btn.disabled = false; flash(String(e), true); });
  }
  function wire(root) {
    root.querySelectorAll('button[data-action]').forEach(function (b) {
      if (b.dataset.wired) return;
      b.dataset.wired = '1';
      b.addEventListener('click', function () { act(b); });
    });
    root.querySelectorAll('[data-w]').forEach(function (i) {
      i.style.width = Math.max(0, Math.min(100, Number(i.dataset.w) || 0)) + '%';
    });
    root.querySelectorAll('pre[data-log]').forEach(stream);
  }
  function refresh() {
    if (timer) return;
    timer = setTimeout(function () {
      timer = null;
      fetch(location.href, { credentials: 'same-origin', cache: 'no-store' })
        .then(function (r) { return r.text(); })
        .then(function (t) {
          var doc = new DOMParser().parseFromString(t, 'text/html');
          doc.querySelectorAll('[data-swap]').forEach(function (n) {
            var old = document.getElementById(n.id);
            if (old) old.replaceWith(document.adoptNode(n));
          });
          var logs = document.getElementById('logs'), nl = doc.getElementById('logs');
          if (logs && nl) {
            nl.querySelectorAll('pre[data-log]').forEach(function (p) {
              var old = null;
              logs.querySelectorAll('pre[data-log]').forEach(function (q) { if (q.dataset.log === p.dataset.log) old = q; });
              if (!old) {
                logs.appendChild(document.adoptNode(p.parentNode));
              } else {
                /* the streaming <pre> stays; its job's status is new */
                var s = p.parentNode.querySelector('summary'), os = old.parentNode.querySelector('summary');
                if (s && os) os.replaceWith(document.adoptNode(s));
              }
            });
          }
          wire(document);
          document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
        })
        .catch(function () {});
    }, 200);
  }
  wire(document);
  var src = document.body.dataset.events;
  if (src && window.EventSource) {
    var es = new EventSource(src);
    es.onopen = function () { state.textContent = 'live'; document.body.dataset.live = '1'; };
    es.onerror = function () { state.textContent = 'reconnecting…'; };
    es.onmessage = refresh;
  }
})();
