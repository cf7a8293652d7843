"""A person using the keyboard alone: Tab moves the focus, Enter activates, Space ticks a checkbox,
typing fills the focused field. No click, no `fill`, no focus() call: what cannot be reached this
way fails the test."""

from __future__ import annotations

from datetime import datetime

from playwright.sync_api import Locator, Page

MAX_TABS = 40

_FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return "(nothing)";
  const name = el.getAttribute("aria-label") || (el.labels && el.labels[0] && el.labels[0].innerText)
    || el.innerText || el.getAttribute("name") || "";
  return `${el.tagName.toLowerCase()} "${name.trim().slice(0, 40)}"`;
}"""


def focused(locator: Locator) -> bool:
    return bool(locator.evaluate("el => el === document.activeElement"))


def tab_to(page: Page, target: Locator, max_tabs: int = MAX_TABS) -> int:
    """Press Tab until `target` has the focus (it may have it already); returns how many presses.
    Fails naming each element the focus went through when `target` is never reached."""
    target.wait_for(state="visible")
    path = []
    for presses in range(max_tabs + 1):
        if focused(target):
            return presses
        page.keyboard.press("Tab")
        path.append(page.evaluate(_FOCUSED))
    raise AssertionError(f"{target} not reached with {max_tabs} Tab presses; focus went: {' → '.join(path)}")


def type_into(page: Page, target: Locator, text: str) -> None:
    """Tab to a field and type into it, as a person would."""
    tab_to(page, target)
    page.keyboard.type(text)


def activate(page: Page, target: Locator) -> None:
    """Tab to a control and press Enter (links, buttons, and a form's fields submit the form)."""
    tab_to(page, target)
    page.keyboard.press("Enter")


def toggle(page: Page, target: Locator) -> None:
    """Tab to a checkbox and press Space (Enter does not tick one)."""
    tab_to(page, target)
    page.keyboard.press("Space")


def type_moment(page: Page, target: Locator, moment: datetime) -> None:
    """Tab to a `datetime-local` field and type `moment` segment by segment. Debian's Chromium has
    only its en-US locale data, so its field takes month, day, year, hour, minute and AM/PM in that
    order whatever the page's language; the year takes up to 6 digits, so Tab ends it."""
    tab_to(page, target)
    hour = moment.hour % 12 or 12
    page.keyboard.type(moment.strftime("%m%d%Y"))
    page.keyboard.press("Tab")
    page.keyboard.type(f"{hour:02d}{moment:%M}")
    page.keyboard.type("A" if moment.hour < 12 else "P")
