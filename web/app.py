"""The Flask application factory. This first version serves a read-only overview of deployed
definitions and open work; the audience blueprints (apply, inbox, design, audit, supervise, api)
build on it."""
from __future__ import annotations

from flask import Flask, jsonify, render_template

from engine.runtime import Engine
from storage import case_store
from storage.database import Database


def create_app(config: dict | None = None, engine: Engine | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(DATABASE_URL=None, JSON_AS_ASCII=False)
    app.config.update(config or {})
    if engine is None:
        engine = Engine(Database(app.config["DATABASE_URL"]))
    app.extensions["yijianshi"] = engine

    @app.get("/")
    def overview():
        with engine.db.reader.connect() as conn:
            items = case_store.query_work_items(conn, limit=50)
            ready = case_store.count_work_items(conn, "ready")
        return render_template("overview.html", definitions=engine.definition_summary(), items=items,
                               ready=ready)

    @app.get("/healthz")
    def healthz():
        with engine.db.reader.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return jsonify(status="ok", database="ok")

    return app
