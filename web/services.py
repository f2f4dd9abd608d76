"""What a request handler reaches the engine through: the process's System (engine/composition.py),
built once at start-up and shared by every request, and the web's scenario catalogue (its page texts
are translated, so it lives here rather than in the engine)."""
from __future__ import annotations

from flask import Flask, current_app

from yijianshi.engine.composition import System
from yijianshi.web.scenarios import ScenarioCatalogue

SYSTEM = "yijianshi.system"
SCENARIOS = "yijianshi.scenarios"


def install(app: Flask, system: System) -> None:
    app.extensions[SYSTEM] = system
    app.extensions["yijianshi"] = system.engine  # the engine alone, for code that needs nothing else
    app.extensions[SCENARIOS] = ScenarioCatalogue(system.engine)


def services() -> System:
    return current_app.extensions[SYSTEM]


def scenario_catalogue() -> ScenarioCatalogue:
    return current_app.extensions[SCENARIOS]
