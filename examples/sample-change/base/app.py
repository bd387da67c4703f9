"""A small inventory service, the base of auditbot's sample change."""

import sqlite3

from flask import Flask, jsonify, request

app = Flask(__name__)


def get_db():
    return sqlite3.connect("inventory.db")


@app.route("/items/<int:item_id>")
def get_item(item_id):
    row = get_db().execute("SELECT id, name FROM items WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        return jsonify({"error": "not found"}), 404
    return jsonify({"id": row[0], "name": row[1]})
