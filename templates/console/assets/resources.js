// Resource servers page: lists, creates, edits (PATCH) and deletes the tenant's resource
// servers (/tenants/{slug}/resource-servers, the identifier as one percent-encoded segment).
// Uses only window.Console (console.js).
'use strict';

Console.ready.then((ctx) => {
  const $ = (id) => document.getElementById(id);
  const table = $('resources');
  const form = $('create-resource');
  const errors = $('resource-errors');
  const scopeList = $('resource-scope-list');
  const slug = encodeURIComponent(ctx.tenant);
  const base = `/tenants/${slug}/resource-servers`;
  // encodeURIComponent leaves only unreserved characters (and !'()*) as they are (RFC 3986 §2.3).
  const item = (identifier) => `${base}/${encodeURIComponent(identifier)}`;
  let editing = null; // identifier of the resource server being edited
  let servers = [];

  const { failure, codes } = Console;
  const message = (text) => Console.formError(errors, text);

  async function loadScopes() {
    const res = await Console.api('GET', `/tenants/${slug}/scopes`);
    const names = res.status === 200 ? ((res.body && res.body.items) || []).map((s) => s.name) : [];
    if (!names.length) {
      scopeList.replaceChildren(Console.el('p', { class: 'muted', text: 'No scopes to choose from: define them on the Scopes page.' }));
      return;
    }
    scopeList.replaceChildren(...names.map((name, i) => Console.el('div', { class: 'check' },
      Console.el('input', { type: 'checkbox', id: `resource-scope-${i}`, name: 'scopes', value: name }),
      Console.el('label', { for: `resource-scope-${i}`, text: name }))));
  }

  async function load() {
    const res = await Console.api('GET', base);
    if (res.status !== 200) { Console.notify(failure(res, 'Resource servers unavailable'), 'error'); return; }
    servers = (res.body && res.body.items) || [];
    if (!servers.length) {
      table.replaceChildren(Console.emptyRow(7, 'No resource servers yet.'));
      return;
    }
    table.replaceChildren(...servers.map((r) => Console.el('tr', { 'data-identifier': r.identifier },
      Console.el('th', { scope: 'row' }, Console.el('code', { text: r.identifier })),
      Console.el('td', { text: r.name }),
      Console.el('td', {}, ...codes(r.scopes)),
      Console.el('td', { text: r.token_format }),
      Console.el('td', { text: r.access_token_ttl == null ? "tenant's" : `${r.access_token_ttl} s` }),
      Console.el('td', {}, ...codes(r.introspectors)),
      Console.el('td', { class: 'row-actions', 'data-write': true },
        Console.el('button', { type: 'button', class: 'secondary small', 'data-action': 'edit', text: 'Edit', 'aria-label': `Edit ${r.name}`, onclick: () => edit(r) }),
        Console.el('button', { type: 'button', 'data-action': 'delete', class: 'danger small', text: 'Delete', 'aria-label': `Delete ${r.name}`, onclick: () => remove(r) })))));
  }

  function setMode(server) {
    editing = server ? server.identifier : null;
    $('resource-form-heading').textContent = server ? `Edit ${server.name}` : 'Add a resource server';
    $('resource-submit').textContent = server ? 'Save changes' : 'Add resource server';
    $('resource-cancel').hidden = !server;
    form.elements.identifier.readOnly = !!server;
    message('');
  }

  function edit(r) {
    setMode(r);
    form.elements.identifier.value = r.identifier;
    form.elements.name.value = r.name;
    form.querySelectorAll('input[name=scopes]').forEach((el) => { el.checked = (r.scopes || []).includes(el.value); });
    form.elements.token_format.value = r.token_format;
    form.elements.access_token_ttl.value = r.access_token_ttl == null ? '' : String(r.access_token_ttl);
    form.elements.introspectors.value = (r.introspectors || []).join('\n');
    form.elements.name.focus();
  }

  async function remove(r) {
    const ok = await Console.confirmAction(`Delete the resource server ${r.name} (${r.identifier})? Clients can no longer get tokens for it.`, 'Delete');
    if (!ok) return;
    const res = await Console.api('DELETE', item(r.identifier));
    if (res.status !== 204 && res.status !== 200) { Console.notify(failure(res, 'Not deleted'), 'error'); return; }
    if (editing === r.identifier) { form.reset(); setMode(null); }
    Console.notify(`Resource server ${r.name} deleted.`, 'ok');
    await load();
  }

  $('resource-cancel').addEventListener('click', () => { form.reset(); setMode(null); });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message('');
    const identifier = form.elements.identifier.value.trim();
    const name = form.elements.name.value.trim();
    const ttl = form.elements.access_token_ttl.value.trim();
    if (!identifier || !name) { message('A resource server needs an identifier and a name.'); (identifier ? form.elements.name : form.elements.identifier).focus(); return; }
    if (ttl && !/^\d+$/.test(ttl)) { message('The token lifetime is a whole number of seconds.'); form.elements.access_token_ttl.focus(); return; }
    const body = {
      name,
      scopes: Array.from(form.querySelectorAll('input[name=scopes]:checked')).map((el) => el.value),
      token_format: form.elements.token_format.value,
      access_token_ttl: ttl ? Number(ttl) : null,
      introspectors: form.elements.introspectors.value.split(/[\s,]+/).filter(Boolean),
    };
    let res;
    if (editing) {
      res = await Console.api('PATCH', item(editing), body);
    } else {
      if (body.access_token_ttl == null) delete body.access_token_ttl;
      res = await Console.api('POST', base, { identifier, ...body });
    }
    if (res.status !== 200 && res.status !== 201) {
      Console.refused(errors, failure(res, editing ? 'Not saved' : 'Not added'));
      return;
    }
    Console.notify(editing ? `Resource server ${name} saved.` : `Resource server ${name} added.`, 'ok');
    form.reset();
    setMode(null);
    await load();
  });

  loadScopes().then(load);
});
