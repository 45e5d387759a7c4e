// Tenants page (operators): search as you type, cursor pagination, create a tenant.
'use strict';

Console.ready.then(() => {
  const { api, el, notify, errorText, formData, debounce, when, busy, emptyRow } = Console;
  const rows = document.getElementById('tenants');
  const next = document.getElementById('tenants-next');
  const search = document.getElementById('tenant-search');
  let cursor = null;
  let generation = 0;

  const row = (t) => el('tr', { 'data-slug': t.slug },
    el('td', {}, el('a', { href: `/console/tenants/${encodeURIComponent(t.slug)}/clients` }, t.slug)),
    el('td', { text: t.name }),
    el('td', { text: t.status }),
    el('td', { text: t.signing_alg }),
    el('td', { text: when(t.created_at) }));

  /** Loads the first page (reset) or the next one for the current search. */
  async function load(reset) {
    const mine = ++generation;
    const params = new URLSearchParams({ limit: '50' });
    if (search.value.trim()) params.set('search', search.value.trim());
    if (!reset && cursor) params.set('after', cursor);
    const { status, body } = await api('GET', `/tenants?${params}`);
    if (mine !== generation) return; // a newer search is under way
    if (status !== 200) {
      notify(`Could not list tenants: ${errorText(body)}`, 'error');
      return;
    }
    if (reset) rows.replaceChildren();
    rows.append(...body.items.map(row));
    if (!rows.children.length) rows.append(emptyRow(5, 'No tenants match.'));
    cursor = body.next || null;
    next.hidden = !cursor;
  }

  search.addEventListener('input', debounce(() => load(true), 250));
  next.addEventListener('click', () => busy(next, () => load(false)));

  const form = document.getElementById('create-tenant');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = formData(form);
    const payload = { slug: data.slug.trim(), alg: data.signing_alg };
    if (data.display_name.trim()) payload.name = data.display_name.trim();
    const { status, body } = await busy(form.querySelector('[type=submit]'), () => api('POST', '/tenants', payload));
    if (status !== 201) {
      notify(`Could not create the tenant: ${errorText(body)}`, 'error');
      return;
    }
    notify(`Tenant ${body.slug} created.`);
    form.reset();
    search.value = body.slug;
    await load(true);
  });

  load(true);
});
