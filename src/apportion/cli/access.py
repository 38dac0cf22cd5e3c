"""`apportion token ...` and `apportion serve`: who may use the REST API and web UI, and the
server itself."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Annotated

import typer

from apportion.cli.common import (
    FormatOption,
    OutputFormat,
    err,
    guard,
    opened_workspace,
    out,
    print_table,
    state,
    write_csv,
)

token_app = typer.Typer(
    help="API tokens for the REST API and web UI: admin, analyst or consumer.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")
    app.command("serve")(serve)


def _actor() -> str:
    from apportion.control.audit import current_actor

    return current_actor()


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="admin, analyst or consumer.")],
    cost_centre: Annotated[
        list[str] | None,
        typer.Option("--cost-centre", help="A cost centre a consumer may see (repeat for more)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="How the audit log names the token's holder.")
    ] = None,
) -> None:
    """Create a token and print it once: only its hash is kept."""
    from apportion.access import tokens

    granted = cost_centre or []
    chosen = name or "-".join([role, *granted])[:60] + "-" + secrets.token_hex(2)
    with opened_workspace() as workspace:
        secret = tokens.create(workspace.control, chosen, role, granted, _actor())
    out.print(secret, markup=False, highlight=False)
    scope = f"cost centres {', '.join(granted)}" if granted else "every cost centre"
    err.print(
        f"token {chosen!r} ({role}, {scope}): store it now, it is not shown again",
        markup=False,
        highlight=False,
    )


@token_app.command("list")
def token_list(fmt: FormatOption = OutputFormat.table) -> None:
    """Every token: name, role, cost centres, who created it and whether it is revoked."""
    from apportion.access import tokens

    with opened_workspace() as workspace:
        found = tokens.list_tokens(workspace.control)
    rows = [token.as_dict() for token in found]
    if fmt is OutputFormat.json:
        out.print_json(json.dumps(rows))
        return
    flat = [{**row, "cost_centres": " ".join(row["cost_centres"])} for row in rows]  # type: ignore[arg-type]
    if fmt is OutputFormat.csv:
        write_csv(flat)
    else:
        print_table("tokens", flat)


@token_app.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token: its requests and browser sessions stop working at once."""
    from apportion.access import tokens

    with opened_workspace() as workspace:
        tokens.revoke(workspace.control, name, _actor())
    err.print(f"revoked token {name!r}", markup=False, highlight=False)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the REST API (/api/v1, OpenAPI at /openapi.json) and the web UI over the
    workspace."""
    _serve(state.root, host, port)


def _serve(root: Path, host: str, port: int) -> None:
    import uvicorn

    from apportion.server import create_app

    with guard():
        app = create_app(root)
    err.print(f"apportion serving {root} on http://{host}:{port}/ (Ctrl+C stops)", markup=False)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def serve_demo(root: Path, port: int) -> None:
    """The demo served, with a token for each kind of user printed to sign in with."""
    from apportion.access import tokens
    from apportion.workspace import Workspace

    workspace = Workspace.open(root)
    try:
        made = [
            ("admin", "demo-admin", []),
            ("analyst", "demo-analyst", []),
            ("consumer", "demo-fraud-ops", ["fraud-ops"]),
        ]
        signed = [
            (name, role, tokens.create(workspace.control, name, role, granted, "demo"))
            for role, name, granted in made
        ]
    finally:
        workspace.close()
    out.print(
        f"\nopen http://127.0.0.1:{port}/ and sign in with one of these tokens:", markup=False
    )
    for name, role, secret in signed:
        out.print(f"  {role:<9} {name:<15} {secret}", markup=False, highlight=False)
    _serve(root, "127.0.0.1", port)
