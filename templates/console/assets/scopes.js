// Scopes page: lists the tenant's scopes (GET /tenants/{slug}/scopes) and defines new ones
// (POST, body {name, description, claims}). Uses only window.Console (console.js).
'use strict';

Console.ready.then((ctx) => {
  const $ = (id) => document.getElementById(id);
  const table = $('scopes');
  const form = $('create-scope');
  const errors = $('create-scope-errors');
  const readOnly = ctx.user && ctx.user.role === 'auditor';
  const slug = encodeURIComponent(ctx.tenant);

  if (readOnly) document.querySelectorAll('[data-write]').forEach((el) => { el.hidden = true; });

  const failure = (res, what) => (res.status === 403
    ? `${what}: your role does not allow this (${Console.errorText(res.body)})`
    : `${what}: ${Console.errorText(res.body)}`);

  function message(text) {
    errors.replaceChildren(...(text ? [Console.el('p', { text })] : []));
    errors.hidden = !text;
  }

  async function load() {
    const res = await Console.api('GET', `/tenants/${slug}/scopes`);
    if (res.status !== 200) {
      Console.notify(failure(res, 'Scopes unavailable'), 'error');
      return;
    }
    const items = (res.body && res.body.items) || [];
    if (!items.length) {
      table.replaceChildren(Console.el('tr', {}, Console.el('td', { colspan: '4', class: 'muted', text: 'No scopes yet.' })));
      return;
    }
    table.replaceChildren(...items.map((s) => Console.el('tr', { 'data-scope': s.name },
      Console.el('th', { scope: 'row' }, Console.el('code', { text: s.name })),
      Console.el('td', { text: s.description }),
      Console.el('td', {}, ...(s.claims && s.claims.length
        ? s.claims.flatMap((c, i) => (i ? [' ', Console.el('code', { text: c })] : [Console.el('code', { text: c })]))
        : [Console.el('span', { class: 'muted', text: 'none' })])),
      Console.el('td', { text: s.is_standard ? 'standard (OpenID Connect)' : 'custom' }))));
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message('');
    const name = form.elements.name.value.trim();
    const description = form.elements.description.value.trim();
    const claims = form.elements.claims.value.split(/[\s,]+/).filter(Boolean);
    if (!name || !description) {
      message('A scope needs a name and a description.');
      (name ? form.elements.description : form.elements.name).focus();
      return;
    }
    const res = await Console.api('POST', `/tenants/${slug}/scopes`, { name, description, claims });
    if (res.status !== 201 && res.status !== 200) {
      const text = failure(res, 'Scope not defined');
      message(text);
      Console.notify(text, 'error');
      return;
    }
    form.reset();
    Console.notify(`Scope ${res.body.name} defined.`, 'ok');
    await load();
    form.elements.name.focus();
  });

  load();
});
