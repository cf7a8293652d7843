"""A person using the keyboard alone: Tab moves the focus, Enter activates, typing fills the focused
field. No click, no `fill`, no focus() call: what cannot be reached this way fails the test."""

from __future__ import annotations

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
