// Users page: search, create (with a console role), account actions, and a details panel with
// the applications the user granted access to, each revocable, and the user's live sessions,
// each of which can be ended.
'use strict';

Console.ready.then((ctx) => {
  const { api, el, notify, errorText, formData, debounce, when, busy, emptyRow } = Console;
  const root = `/tenants/${encodeURIComponent(ctx.tenant)}/users`;
  const rows = document.getElementById('users');
  const next = document.getElementById('users-next');
  const search = document.getElementById('user-search');
  const detail = document.getElementById('user-detail');
  let cursor = null;
  let generation = 0;

  // Each action: label, method, path below the user, message on success.
  const ACTIONS = {
    disable: ['Disable', 'POST', '/disable', 'disabled'],
    enable: ['Enable', 'POST', '/enable', 'enabled'],
    unlock: ['Unlock', 'POST', '/unlock', 'unlocked'],
    'reset-mfa': ['Reset MFA', 'DELETE', '/mfa', 'has no second factor any more'],
    'force-reset': ['Force password reset', 'POST', '/password-reset', 'must reset the password'],
    'end-sessions': ['End sessions', 'DELETE', '/sessions', 'is signed out everywhere'],
    delete: ['Delete', 'DELETE', '', 'deleted'],
  };

  const userPath = (username) => `${root}/${encodeURIComponent(username)}`;

  const row = (u) => el('tr', { 'data-username': u.username },
    el('td', {}, el('button', { type: 'button', class: 'small secondary', 'data-action': 'details', onclick: () => show(u.username) }, u.username)),
    el('td', { text: u.email || '' }),
    el('td', { text: u.status }),
    el('td', { text: u.role || '' }),
    el('td', { 'data-write': true }, Object.entries(ACTIONS)
      .filter(([action]) => !(action === 'disable' && u.status === 'disabled') && !(action === 'enable' && u.status !== 'disabled'))
      .map(([action, [label]]) => el('button', {
        type: 'button',
        class: action === 'delete' ? 'small danger' : 'small secondary',
        'data-action': action,
        'aria-label': `${label} ${u.username}`,
        onclick: (event) => act(event.currentTarget, action, u.username),
      }, label))));

  async function load(reset) {
    const mine = ++generation;
    const params = new URLSearchParams({ limit: '50' });
    if (search.value.trim()) params.set('search', search.value.trim());
    if (!reset && cursor) params.set('after', cursor);
    const { status, body } = await api('GET', `${root}?${params}`);
    if (mine !== generation) return;
    if (status !== 200) {
      notify(`Could not list users: ${errorText(body)}`, 'error');
      return;
    }
    if (reset) rows.replaceChildren();
    rows.append(...body.items.map(row));
    if (!rows.children.length) rows.append(emptyRow(5, 'No users match.'));
    cursor = body.next || null;
    next.hidden = !cursor;
  }

  async function act(button, action, username) {
    const [label, method, suffix, done] = ACTIONS[action];
    if (action === 'delete' && !window.confirm(`Delete ${username}? This cannot be undone.`)) return;
    const { status, body } = await busy(button, () => api(method, `${userPath(username)}${suffix}`));
    if (status >= 300) {
      notify(`${label} failed for ${username}: ${errorText(body)}`, 'error');
      return;
    }
    notify(`${username} ${done}.`);
    if (action === 'delete') detail.hidden = true;
    await load(true);
    if (action !== 'delete' && !detail.hidden && detail.dataset.username === username) await show(username);
  }

  /** Fills the sessions table: one row per live session, newest first, with an End button. */
  function showSessions(username, sessions) {
    const tbody = document.getElementById('user-sessions');
    tbody.replaceChildren();
    const items = sessions.status === 200 ? sessions.body.items : [];
    for (const s of items) {
      tbody.append(el('tr', { 'data-session': s.id },
        el('td', {}, el('code', { text: s.id })),
        el('td', { text: when(s.created_at) }),
        el('td', { text: when(s.last_seen_at) }),
        el('td', { text: when(s.expires_at) }),
        el('td', { text: [...(s.amr || []), s.acr].filter(Boolean).join(' ') }),
        el('td', { 'data-write': true }, el('button', {
          type: 'button', class: 'small danger', 'data-end-session': s.id, 'data-write': true,
          'aria-label': `End the session started ${when(s.created_at)}`,
          onclick: async (event) => {
            const r = await busy(event.currentTarget, () => api('DELETE', `${userPath(username)}/sessions/${encodeURIComponent(s.id)}`));
            if (r.status >= 300) notify(`Could not end the session: ${errorText(r.body)}`, 'error');
            else { notify(`Session of ${username} ended.`); await show(username); }
          },
        }, 'End'))));
    }
    if (sessions.status !== 200) notify(`Could not list sessions: ${errorText(sessions.body)}`, 'error');
    if (!items.length) tbody.append(emptyRow(6, 'No live sessions.'));
  }

  /** Fills the details panel: the account's facts, its grants with revoke buttons and its
   * sessions with end buttons. */
  async function show(username) {
    const [user, grants, sessions] = await Promise.all([
      api('GET', userPath(username)),
      api('GET', `${userPath(username)}/grants`),
      api('GET', `${userPath(username)}/sessions`),
    ]);
    if (user.status !== 200) {
      notify(`Could not read ${username}: ${errorText(user.body)}`, 'error');
      return;
    }
    const u = user.body;
    detail.dataset.username = username;
    document.getElementById('user-detail-heading').textContent = `User ${u.username}`;
    const facts = [
      ['Id', u.id], ['E-mail', u.email || '—'], ['E-mail verified', u.email_verified ? 'yes' : 'no'],
      ['Status', u.status], ['Role', u.role || '—'], ['Password set', u.has_password ? 'yes' : 'no'],
      ['Created', when(u.created_at)],
    ];
    document.getElementById('user-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: String(v ?? '') })]));
    const tbody = document.getElementById('user-grants');
    tbody.replaceChildren();
    const items = grants.status === 200 ? grants.body.items : [];
    for (const g of items) {
      tbody.append(el('tr', { 'data-client': g.client_id },
        el('td', {}, g.client_name ? `${g.client_name} ` : '', el('code', { text: g.client_id })),
        el('td', { text: (Array.isArray(g.scopes) ? g.scopes : String(g.scopes || '').split(' ')).join(' ') }),
        el('td', { text: when(g.created_at) }),
        el('td', { 'data-write': true }, el('button', {
          type: 'button', class: 'small danger', 'data-revoke-client': g.client_id,
          'aria-label': `Revoke ${g.client_id}'s access`,
          onclick: async (event) => {
            const r = await busy(event.currentTarget, () => api('DELETE', `${userPath(username)}/grants/${encodeURIComponent(g.client_id)}`));
            if (r.status >= 300) notify(`Could not revoke: ${errorText(r.body)}`, 'error');
            else { notify(`Access of ${g.client_id} revoked.`); await show(username); }
          },
        }, 'Revoke'))));
    }
    if (grants.status !== 200) notify(`Could not list grants: ${errorText(grants.body)}`, 'error');
    if (!items.length) tbody.append(emptyRow(4, 'No applications have access.'));
    showSessions(username, sessions);
    for (const tr of rows.children) tr.classList.toggle('selected', tr.dataset.username === username);
    detail.hidden = false;
  }

  search.addEventListener('input', debounce(() => load(true), 250));
  next.addEventListener('click', () => busy(next, () => load(false)));

  const form = document.getElementById('create-user');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = formData(form);
    const payload = { username: data.username.trim() };
    if (data.password) payload.password = data.password;
    if (data.email.trim()) payload.email = data.email.trim();
    if (data.role) payload.role = data.role;
    const { status, body } = await busy(form.querySelector('[type=submit]'), () => api('POST', root, payload));
    if (status !== 201) {
      notify(`Could not create the user: ${errorText(body)}`, 'error');
      return;
    }
    notify(`User ${body.username} created.`);
    form.reset();
    search.value = '';
    await load(true);
  });

  load(true);
});
