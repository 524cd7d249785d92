/*
 * The kluis cookie banner, for the authority's own websites. A page includes it with
 *
 *   <link rel="stylesheet" href="https://KLUIS/cookies/CONTROLLER/banner.css">
 *   <script src="https://KLUIS/cookies/CONTROLLER/banner.js" defer></script>
 *
 * No dependencies and no cookies of its own: the choice is kept in the website's localStorage
 * and its proof is sent to kluis. For the website's own scripts:
 *
 *   window.kluisCookies.allowed('analytics')   true only after the visitor accepted analytics
 *   document.addEventListener('kluis-cookie-consent', (e) => e.detail.accepted ...)
 *   <a href="/privacy" data-kluis-cookie-settings>Cookie settings</a>   reopens the settings
 *
 * Functional cookies are always on; every other type is off until the visitor accepts it.
 * A browser with Global Privacy Control gets no banner: its signal is recorded as a refusal.
 */
(() => {
  'use strict';

  // kluis puts the controller's banner here: its version, the declared types and the texts.
  const config = /*KLUIS_BANNER_CONFIG*/ null;
  const script = document.currentScript;
  if (!config || !script) return;

  const kluis = new URL('.', script.src); // https://KLUIS/cookies/CONTROLLER/
  const storageKey = `kluis-cookies:${config.controller}`;
  const consentTypes = config.types.filter((type) => type !== 'functional');
  const gpc = navigator.globalPrivacyControl === true;
  const lang = (() => {
    const page = (document.documentElement.lang || '').toLowerCase().split('-')[0];
    return config.texts[page] ? page : 'nl';
  })();
  const texts = config.texts[lang];

  // localStorage can be switched off; the choice then holds for this page only.
  const storage = {
    read() {
      try {
        return JSON.parse(localStorage.getItem(storageKey));
      } catch {
        return null;
      }
    },
    write(value) {
      try {
        localStorage.setItem(storageKey, JSON.stringify(value));
      } catch {
        /* kept in memory only */
      }
    },
  };

  // The visitor id is random and says nothing about the visitor: it only ties a browser's
  // later choices to its earlier ones in kluis's proof.
  const randomId = () =>
    Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');

  let saved = storage.read();
  if (!saved || typeof saved.visitor !== 'string') saved = { visitor: randomId() };
  let proof = null;
  let banner = null;
  let returnFocus = null;

  // A choice made on an earlier banner (other cookies or texts) no longer counts.
  const current = () => (saved.version === config.version && Array.isArray(saved.accepted) ? saved : null);

  function allowed(type) {
    if (type === 'functional') return true;
    const choice = current();
    return Boolean(choice) && choice.accepted.includes(type);
  }

  function snapshot(choice) {
    return {
      accepted: [...choice.accepted],
      refused: config.types.filter((type) => !choice.accepted.includes(type)),
      source: choice.source,
      version: choice.version,
    };
  }

  function announce() {
    const choice = current();
    if (choice) document.dispatchEvent(new CustomEvent('kluis-cookie-consent', { detail: snapshot(choice) }));
  }

  function send() {
    const body = { visitor: saved.visitor, banner_version: config.version, accepted: saved.accepted };
    if (saved.source === 'gpc') body.gpc = true;
    fetch(new URL('choices', kluis), {
      method: 'POST',
      mode: 'cors',
      credentials: 'omit',
      keepalive: true,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
      .then((response) => (response.ok ? response.json() : null))
      .then((recorded) => {
        if (!recorded) return;
        proof = recorded;
        // The browser sent Sec-GPC without telling the page: kluis recorded a refusal; follow it.
        if (recorded.source === 'gpc' && saved.source !== 'gpc') {
          saved = { ...saved, accepted: recorded.accepted, source: 'gpc' };
          storage.write(saved);
          announce();
        }
      })
      .catch(() => {
        /* the choice holds on this website; only its proof in kluis is missing */
      });
  }

  function decide(accepted, source) {
    saved = {
      visitor: saved.visitor,
      version: config.version,
      accepted: config.types.filter((t) => t === 'functional' || (source !== 'gpc' && accepted.includes(t))),
      source,
      at: new Date().toISOString(),
    };
    storage.write(saved);
    announce();
    send();
  }

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === true) node.setAttribute(name, '');
      else if (value !== false && value !== null && value !== undefined) node.setAttribute(name, value);
    }
    node.append(...children); // strings become text, never HTML
    return node;
  }

  const id = (name) => `kluis-cookies-${name}`;

  function typeChoice(type) {
    const box = el('div', { class: 'kluis-cookies-type' });
    if (type.needs_consent) {
      const input = el('input', {
        type: 'checkbox',
        id: id(`type-${type.type}`),
        value: type.type,
        disabled: gpc,
        'aria-describedby': id(`about-${type.type}`),
      });
      input.checked = !gpc && allowed(type.type);
      box.append(input, ' ', el('label', { for: input.id }, type.label));
    } else {
      box.append(el('span', { class: 'kluis-cookies-label' }, type.label), ` (${texts.always_on})`);
    }
    const list = el('ul', { id: id(`about-${type.type}`) });
    for (const cookie of type.cookies) {
      const facts = el(
        'span',
        { class: 'kluis-cookies-facts' },
        `${texts.lifetime}: `,
        el('span', { lang: cookie.lifetime.lang }, cookie.lifetime.text),
      );
      if (cookie.provider) facts.append(`; ${texts.provider}: ${cookie.provider}`);
      list.append(
        el('li', {}, el('strong', {}, cookie.name), ': ', el('span', { lang: cookie.purpose.lang }, cookie.purpose.text), facts),
      );
    }
    box.append(list);
    return box;
  }

  function build(withSettings) {
    const button = (action, label, attributes = {}) =>
      el('button', { type: 'button', class: 'kluis-cookies-button', 'data-action': action, ...attributes }, label);
    const settings = el(
      'div',
      { id: id('settings'), class: 'kluis-cookies-settings', hidden: !withSettings },
      el('fieldset', {}, el('legend', {}, texts.settings_title), ...texts.types.map(typeChoice)),
      button('save', texts.save),
    );
    const toggle = button('settings', texts.settings, {
      'aria-expanded': String(withSettings),
      'aria-controls': id('settings'),
    });
    const actions = el('div', { class: 'kluis-cookies-actions' }, button('refuse', texts.refuse_all));
    if (!gpc) actions.append(button('accept', texts.accept_all));
    actions.append(toggle);
    const privacy = new URL(`../../privacy/${encodeURIComponent(config.controller)}?lang=${lang}`, kluis);
    const section = el(
      'section',
      { class: 'kluis-cookies', 'aria-labelledby': id('title'), lang },
      el('h2', { id: id('title'), tabindex: '-1' }, texts.title),
      el('p', {}, gpc ? texts.gpc_note : texts.intro),
      el('p', {}, el('a', { href: privacy.href }, texts.privacy_link)),
      actions,
      settings,
    );
    section.addEventListener('click', (event) => {
      const action = event.target.closest('button')?.dataset.action;
      if (action === 'refuse') choose([]);
      else if (action === 'accept') choose(consentTypes);
      else if (action === 'save') choose([...settings.querySelectorAll('input:checked')].map((i) => i.value));
      else if (action === 'settings') {
        settings.hidden = !settings.hidden;
        toggle.setAttribute('aria-expanded', String(!settings.hidden));
      }
    });
    // Reopened from a link, Escape closes without a change; the first banner waits for a choice
    // but never keeps focus: the rest of the page stays reachable.
    section.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && returnFocus) close();
    });
    return section;
  }

  function show(withSettings) {
    banner = build(withSettings);
    document.body.prepend(banner); // first in reading and tab order
  }

  function close() {
    if (banner) banner.remove();
    banner = null;
    if (returnFocus && document.contains(returnFocus)) returnFocus.focus();
    returnFocus = null;
  }

  function choose(accepted) {
    decide(accepted, gpc ? 'gpc' : 'banner');
    close();
  }

  // Reopens the banner with its settings, and moves focus there; it returns on closing.
  function open(from) {
    if (banner) banner.remove();
    returnFocus = from || document.activeElement;
    show(true);
    banner.querySelector('h2').focus();
  }

  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('[data-kluis-cookie-settings]');
    if (!link) return;
    event.preventDefault();
    open(link);
  });

  window.kluisCookies = {
    allowed,
    open: () => open(null),
    choice: () => (current() ? snapshot(current()) : null),
    proof: () => proof,
    version: config.version,
  };

  if (consentTypes.length === 0) return; // nothing needs consent: nothing to ask
  if (gpc) {
    if (current()?.source !== 'gpc') decide([], 'gpc');
    else announce();
  } else if (current()) {
    announce();
  } else {
    show(false);
  }
})();
