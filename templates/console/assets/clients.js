// Clients page: list, create (a confidential client's secret is shown once), edit redirect
// URIs, grant types, scopes, token format and the DPoP / PAR requirements, rotate the secret,
// delete.
'use strict';

Console.ready.then((ctx) => {
  const { api, el, notify, errorText, formData, busy, emptyRow } = Console;
  const root = `/tenants/${encodeURIComponent(ctx.tenant)}/clients`;
  const rows = document.getElementById('clients');
  const next = document.getElementById('clients-next');
  const secretBox = document.getElementById('client-secret');
  const editSection = document.getElementById('client-edit');
  const editForm = document.getElementById('edit-client');
  let cursor = null;
  const known = new Map();

  const list = (scopes) => (Array.isArray(scopes) ? scopes : String(scopes || '').split(' ').filter(Boolean));
  const clientPath = (id) => `${root}/${encodeURIComponent(id)}`;

  /** Shows a one-time secret with a copy button (RFC 6749 §2.3.1 client password). */
  function showSecret(clientId, secret) {
    document.getElementById('client-secret-for').textContent = clientId;
    document.getElementById('client-secret-value').value = secret;
    secretBox.hidden = false;
    secretBox.focus();
  }
  document.getElementById('copy-secret').addEventListener('click', async () => {
    const field = document.getElementById('client-secret-value');
    try {
      await navigator.clipboard.writeText(field.value);
      notify('Secret copied to the clipboard.');
    } catch (_) {
      field.select();
      notify('Select the secret and copy it.', 'error');
    }
  });

  const row = (c) => {
    known.set(c.client_id, c);
    return el('tr', { 'data-client-id': c.client_id },
      el('td', {}, el('code', { text: c.client_id })),
      el('td', { text: c.name }),
      el('td', { text: c.client_type }),
      el('td', { text: (c.grant_types || []).join(', ') }),
      el('td', { 'data-write': true },
        el('button', { type: 'button', class: 'small secondary', 'data-action': 'edit', 'aria-label': `Edit ${c.name}`, onclick: () => edit(c.client_id) }, 'Edit'),
        c.client_type === 'confidential'
          ? el('button', { type: 'button', class: 'small secondary', 'data-action': 'rotate-secret', 'aria-label': `Rotate the secret of ${c.name}`, onclick: (e) => rotate(e.currentTarget, c.client_id) }, 'Rotate secret')
          : null,
        el('button', { type: 'button', class: 'small danger', 'data-action': 'delete', 'aria-label': `Delete ${c.name}`, onclick: (e) => remove(e.currentTarget, c.client_id) }, 'Delete')));
  };

  async function load(reset) {
    const params = new URLSearchParams({ limit: '100' });
    if (!reset && cursor) params.set('after', cursor);
    const { status, body } = await api('GET', `${root}?${params}`);
    if (status !== 200) {
      notify(`Could not list clients: ${errorText(body)}`, 'error');
      return;
    }
    if (reset) { rows.replaceChildren(); known.clear(); }
    rows.append(...body.items.map(row));
    if (!rows.children.length) rows.append(emptyRow(5, 'No clients yet.'));
    cursor = body.next || null;
    next.hidden = !cursor;
  }

  async function rotate(button, id) {
    const { status, body } = await busy(button, () => api('POST', `${clientPath(id)}/secret`));
    if (status >= 300 || !body.client_secret) {
      notify(`Could not rotate the secret: ${errorText(body)}`, 'error');
      return;
    }
    notify(`New secret issued for ${id}; the old one no longer works.`);
    showSecret(id, body.client_secret);
  }

  async function remove(button, id) {
    if (!window.confirm(`Delete client ${id}? Its tokens stop working.`)) return;
    const { status, body } = await busy(button, () => api('DELETE', clientPath(id)));
    if (status >= 300) {
      notify(`Could not delete ${id}: ${errorText(body)}`, 'error');
      return;
    }
    notify(`Client ${id} deleted.`);
    editSection.hidden = true;
    await load(true);
  }

  function edit(id) {
    const c = known.get(id);
    if (!c) return;
    const options = c.options || {};
    editForm.elements.client_id.value = id;
    editForm.elements.name.value = c.name;
    editForm.elements.redirect_uris.value = (c.redirect_uris || []).join('\n');
    const grants = new Set(c.grant_types || []);
    for (const box of editForm.querySelectorAll('[name=grant_types]')) {
      box.checked = grants.has(box.value);
      // RFC 6749 §4.4: a public client cannot hold the client credentials grant.
      box.disabled = box.value === 'client_credentials' && c.client_type === 'public' && !box.checked;
    }
    editForm.elements.scopes.value = list(c.scopes).join('\n');
    editForm.elements.token_format.value = c.token_format;
    editForm.elements.require_dpop.checked = Boolean(options.require_dpop);
    editForm.elements.require_par.checked = Boolean(options.require_pushed_authorization_requests);
    document.getElementById('client-edit-heading').textContent = `Edit ${c.name}`;
    editSection.hidden = false;
    editForm.elements.name.focus();
  }
  document.getElementById('cancel-edit').addEventListener('click', () => { editSection.hidden = true; });

  editForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = formData(editForm);
    const current = known.get(data.client_id) || {};
    // PATCH replaces `options` whole: keep the client's other options as they are.
    const options = { ...(current.options || {}), require_dpop: data.require_dpop, require_pushed_authorization_requests: data.require_par };
    const payload = {
      name: data.name.trim(),
      redirect_uris: data.redirect_uris,
      grant_types: data.grant_types,
      scopes: data.scopes,
      token_format: data.token_format,
      options,
    };
    const { status, body } = await busy(editForm.querySelector('[type=submit]'), () => api('PATCH', clientPath(data.client_id), payload));
    if (status !== 200) {
      notify(`Could not save ${data.client_id}: ${errorText(body)}`, 'error');
      return;
    }
    notify(`Client ${data.client_id} saved.`);
    editSection.hidden = true;
    await load(true);
  });

  const form = document.getElementById('create-client');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = formData(form);
    const payload = {
      name: data.name.trim(),
      public: data.client_type === 'public',
      grant_types: data.grant_types,
      redirect_uris: data.redirect_uris,
      scopes: data.scopes,
      token_format: data.token_format,
      options: { require_dpop: data.require_dpop, require_pushed_authorization_requests: data.require_par },
    };
    const { status, body } = await busy(form.querySelector('[type=submit]'), () => api('POST', root, payload));
    if (status !== 201) {
      notify(`Could not create the client: ${errorText(body)}`, 'error');
      return;
    }
    notify(`Client ${body.client_id} created${body.client_secret ? '; copy its secret now' : ''}.`);
    if (body.client_secret) showSecret(body.client_id, body.client_secret);
    form.reset();
    await load(true);
  });

  load(true);
});
