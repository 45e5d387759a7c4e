// Audit log page: filters, newest-first pages through the `next` cursor, and an export of the
// filtered events as JSON lines (fetched with the bearer token, offered as a file download).
'use strict';

Console.ready.then((ctx) => {
  const { api, el, notify, errorText, formData, when, busy, emptyRow } = Console;
  const root = `/tenants/${encodeURIComponent(ctx.tenant)}/audit-events`;
  const form = document.getElementById('audit-filters');
  const rows = document.getElementById('audit');
  const more = document.getElementById('audit-more');
  const exportButton = document.getElementById('audit-export');
  let cursor = null;

  /** The filter form as query parameters; times become Unix seconds. */
  function filters() {
    const data = formData(form);
    const params = new URLSearchParams();
    for (const name of ['action', 'actor', 'user', 'client']) {
      if (data[name] && data[name].trim()) params.set(name, data[name].trim());
    }
    for (const name of ['since', 'until']) {
      if (data[name]) {
        const seconds = Math.floor(new Date(data[name]).getTime() / 1000);
        if (Number.isFinite(seconds)) params.set(name, String(seconds));
      }
    }
    return params;
  }

  const row = (e) => el('tr', { 'data-action': e.action },
    el('td', {}, el('time', { datetime: new Date(e.occurred_at * 1000).toISOString(), text: when(e.occurred_at) })),
    el('td', {}, el('code', { text: e.action })),
    el('td', { text: e.actor }),
    el('td', { text: (e.details && e.details.username) || e.user_id || '' }),
    el('td', { text: e.client_id || '' }),
    el('td', { text: e.ip || '' }),
    el('td', {}, e.details && Object.keys(e.details).length
      ? el('details', {}, el('summary', { text: 'Details' }), el('pre', { text: JSON.stringify(e.details, null, 2) }))
      : ''));

  async function load(reset) {
    const params = filters();
    params.set('limit', '50');
    if (!reset && cursor) params.set('cursor', cursor);
    const { status, body } = await api('GET', `${root}?${params}`);
    if (status !== 200) {
      notify(`Could not read the audit log: ${errorText(body)}`, 'error');
      return;
    }
    if (reset) rows.replaceChildren();
    rows.append(...body.items.map(row));
    if (!rows.children.length) rows.append(emptyRow(7, 'No events match.'));
    cursor = body.next || null;
    more.hidden = !cursor;
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(form.querySelector('[type=submit]'), () => load(true));
  });
  more.addEventListener('click', () => busy(more, () => load(false)));

  exportButton.addEventListener('click', () => busy(exportButton, async () => {
    const { status, body } = await api('GET', `${root}/export?${filters()}`, null, { blob: true });
    if (status !== 200) {
      const text = await body.text();
      let parsed = text;
      try { parsed = JSON.parse(text); } catch (_) { /* plain text */ }
      notify(`Could not export: ${errorText(parsed)}`, 'error');
      return;
    }
    const url = URL.createObjectURL(body);
    const link = el('a', { href: url, download: `audit-${ctx.tenant}.jsonl`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    notify('Export downloaded.');
  }));

  load(true);
});
