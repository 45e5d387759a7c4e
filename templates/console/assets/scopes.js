// Scopes page: lists the tenant's scopes (GET /tenants/{slug}/scopes) and defines new ones
// (POST, body {name, description, claims}). Uses only window.Console (console.js).
'use strict';

Console.ready.then((ctx) => {
  const $ = (id) => document.getElementById(id);
  const table = $('scopes');
  const form = $('create-scope');
  const errors = $('create-scope-errors');
  const slug = encodeURIComponent(ctx.tenant);
  const { failure } = Console;
  const message = (text) => Console.formError(errors, text);

  async function load() {
    const res = await Console.api('GET', `/tenants/${slug}/scopes`);
    if (res.status !== 200) {
      Console.notify(failure(res, 'Scopes unavailable'), 'error');
      return;
    }
    const items = (res.body && res.body.items) || [];
    if (!items.length) {
      table.replaceChildren(Console.emptyRow(4, 'No scopes yet.'));
      return;
    }
    table.replaceChildren(...items.map((s) => Console.el('tr', { 'data-scope': s.name },
      Console.el('th', { scope: 'row' }, Console.el('code', { text: s.name })),
      Console.el('td', { text: s.description }),
      Console.el('td', {}, ...Console.codes(s.claims)),
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
      Console.refused(errors, failure(res, 'Scope not defined'));
      return;
    }
    form.reset();
    Console.notify(`Scope ${res.body.name} defined.`, 'ok');
    await load();
    form.elements.name.focus();
  });

  load();
});
