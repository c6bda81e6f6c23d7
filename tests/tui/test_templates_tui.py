"""Pilot tests: "New from template" on the Workflows screen, "Save as template" in the
Designer, against a real API."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input, SelectionList, Static

from app.screens.designer import DesignerScreen
from app.screens.dialogs.save_template import SaveTemplateDialog
from app.screens.dialogs.template_form import TemplateForm
from app.screens.template_gallery import TemplateGallery
from app.widgets.canvas_view import CanvasView
from orchestrator.errors import NotFound
from tests.api.conftest import pipeline_spec
from tests.tui.conftest import Tui, notifications, wait_for
from tests.tui.test_workflows_screen import listed

SIZE = (120, 40)


async def _gallery(pilot: Any) -> TemplateGallery:
    await pilot.press("t")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, TemplateGallery), what="gallery")
    gallery = pilot.app.screen
    assert isinstance(gallery, TemplateGallery)
    await wait_for(pilot, lambda: bool(gallery.rows), what="templates")
    return gallery


async def _fill(pilot: Any, form: TemplateForm, field: str, value: str) -> None:
    box = form.query_one(f"#{field}", Input)
    box.value = value
    box.focus()
    await wait_for(pilot, lambda: box.has_focus, what=f"focus on {field}")


async def test_new_from_template_previews_fills_in_and_designs(tui: Tui) -> None:
    async with tui.client("admin") as c:
        await c.create_workflow(pipeline_spec())
    async with tui.app("designer").run_test(size=SIZE) as pilot:
        await listed(pilot)
        gallery = await _gallery(pilot)
        ids = [r.id for r in gallery.rows]
        assert {"data-pipeline", "order-saga", "nightly-report", "webhook-flow"} <= set(ids)
        for _ in range(ids.index("order-saga")):
            await pilot.press("down")
        canvas = gallery.query_one("#gallery-preview", CanvasView)
        await wait_for(
            pilot,
            lambda: (
                canvas.layout_result is not None and "charge_payment" in canvas.layout_result.boxes
            ),
            what="the saga's preview",
        )
        detail = str(gallery.query_one("#gallery-detail", Static).render())
        assert "Order saga" in detail and "payment_handler" in detail

        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, TemplateForm), what="form")
        form = pilot.app.screen
        assert isinstance(form, TemplateForm)
        assert form.query_one("#p-payment_handler", Input).value == "chargePayment"
        await _fill(pilot, form, "wf-id", "checkout")
        await _fill(pilot, form, "p-payment_handler", "charge card")
        await pilot.press("enter")  # Enter in a field submits the form
        problem = form.query_one("#problem", Static)
        await wait_for(pilot, lambda: "payment_handler" in str(problem.render()), what="refusal")
        still_open = pilot.app.screen is form
        assert still_open  # the form stays open to fix the value
        await _fill(pilot, form, "p-payment_handler", "chargeCard")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, DesignerScreen), what="designer")
        designer = pilot.app.screen
        assert isinstance(designer, DesignerScreen)
        assert designer.editor.node("charge_payment")["handler"] == "chargeCard"
        async with tui.client("admin") as c:
            try:
                await c.get_workflow("checkout")
                raise AssertionError("nothing is stored before F10")
            except NotFound:
                pass
        await pilot.press("f10")

        async def stored() -> bool:
            async with tui.client("admin") as c:
                try:
                    wf = await c.get_workflow("checkout")
                except NotFound:
                    return False
                return any(n.get("handler") == "chargeCard" for n in wf.spec()["nodes"])

        for _ in range(300):
            if await stored():
                break
            await pilot.pause(0.05)
        assert await stored()


async def test_operators_cannot_make_workflows_from_templates(tui: Tui) -> None:
    async with tui.client("admin") as c:
        await c.create_workflow(pipeline_spec())
    async with tui.app("operator").run_test(size=SIZE) as pilot:
        await listed(pilot)
        await pilot.press("t")
        await wait_for(
            pilot,
            lambda: any("cannot create workflows" in n for n in notifications(pilot.app)),
            what="the refusal",
        )
        assert not isinstance(pilot.app.screen, TemplateGallery)


async def test_save_as_template_from_the_designer(tui: Tui) -> None:
    async with tui.client("admin") as c:
        await c.create_workflow(pipeline_spec())
    async with tui.app("designer").run_test(size=SIZE) as pilot:
        await listed(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, DesignerScreen), what="open")
        await pilot.press("T")
        await wait_for(
            pilot, lambda: isinstance(pilot.app.screen, SaveTemplateDialog), what="dialog"
        )
        dialog = pilot.app.screen
        assert isinstance(dialog, SaveTemplateDialog)
        choices = dialog.query_one(SelectionList)
        params = [c.param for c in dialog.candidates]
        # Handlers are offered marked; also make the transform's retries a parameter.
        choices.select(params.index("transform_retries"))
        choices.deselect(params.index("store_handler"))
        box = dialog.query_one("#tpl-id", Input)
        box.value = "my-pipeline"
        box.focus()
        await wait_for(pilot, lambda: box.has_focus, what="focus on the id")
        await pilot.press("enter")  # Enter in a field saves
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, DesignerScreen), what="saved")
        said = notifications(pilot.app)
        assert any("template my-pipeline version 1 (created)" in n for n in said)
    async with tui.client("designer") as c:
        record = await c.get_template("my-pipeline")
        assert sorted((record.template or {})["parameters"]) == [
            "fetch_handler", "transform_handler", "transform_retries"
        ]  # fmt: skip
        made = await c.use_template("my-pipeline", "again", {"transform_retries": 0}, save=False)
        nodes = {n["id"]: n for n in made.workflow["nodes"]}
        assert nodes["transform"]["retries"] == 0 and nodes["store"]["handler"] == "store"
        assert nodes["fetch"]["handler"] == "fetch"
