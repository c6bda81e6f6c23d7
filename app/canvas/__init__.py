"""The designer's canvas, without Textual widgets: model, layout and rendering.

- :mod:`app.canvas.model` — ``CanvasGraph`` (from a spec or ``(nodes, edges)``), ``Box``,
  ``Route``, ``Layout``.
- :mod:`app.canvas.layout` — ``compute_layout(graph, *, zoom, relayout, positions)``.
- :mod:`app.canvas.render` — ``Scene(layout)``, ``Frame(scene, decorations).line(...)``,
  ``render_lines``, ``render_text``.
- :mod:`app.canvas.glyphs` — node type glyphs, status symbols and colours.
- :mod:`app.canvas.navigate` — ``nearest_in_direction`` (what an arrow key selects), the
  move and pan steps of the keys.

The widget that puts this on screen is :class:`app.widgets.canvas_view.CanvasView`.
"""
