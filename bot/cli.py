"""Operator command line: `python -m bot ...`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from bot.db.migrate import upgrade
from bot.db.session import session_scope
from bot.settings import get_settings


def _db_upgrade(_args: argparse.Namespace) -> int:
    upgrade()
    print("Cơ sở dữ liệu đã ở phiên bản mới nhất.")
    return 0


def _seed(args: argparse.Namespace) -> int:
    from bot.seed import is_empty, seed

    with session_scope() as session:
        if not is_empty(session) and not args.force:
            print("Cơ sở dữ liệu đã có khách hàng; bỏ qua dữ liệu mẫu (dùng --force để thêm).")
            return 0
        counts = seed(session)
    print(f"Đã nạp dữ liệu mẫu: {counts['customers']} khách hàng, {counts['bills']} hóa đơn, "
          f"{counts['outages']} lịch ngừng cấp điện.")
    return 0


def _import(args: argparse.Namespace) -> int:
    from bot.importers import IMPORTERS, ImportFailed

    path = Path(args.file)
    if not path.is_file():
        print(f"Không tìm thấy tệp {path}", file=sys.stderr)
        return 2
    try:
        with session_scope() as session:
            result = IMPORTERS[args.kind](session, path)
    except ImportFailed as exc:
        print(f"Không nhập {path.name}: có {len(exc.errors)} lỗi, không dòng nào được ghi.", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    except UnicodeDecodeError:
        print(f"Tệp {path.name} không phải UTF-8; không dòng nào được ghi.", file=sys.stderr)
        return 1
    print(f"Đã nhập {path.name}: {result.created} mới, {result.updated} cập nhật.")
    return 0


def _requests_list(args: argparse.Namespace) -> int:
    from bot.catalogue import load_catalogue
    from bot.db.repository import list_requests

    catalogue = load_catalogue()
    with session_scope() as session:
        rows = list_requests(session, limit=args.limit)
        if not rows:
            print("Chưa có yêu cầu nào.")
        for r in rows:
            name = catalogue.services[r.service].short if r.service in catalogue.services else r.service
            print(f"{r.code}  {r.created_at:%d/%m/%Y %H:%M}  {r.status:<10} {r.priority:<6} "
                  f"hạn {r.due_date:%d/%m/%Y}  {r.channel:<8} {r.phone or '-':<10}  {name}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from bot.supervisor import run

    return run(setup=not args.no_setup)


def _agents_add(args: argparse.Namespace) -> int:
    from getpass import getpass

    from bot.takeover.agents import add_agent

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass("Mật khẩu: ")
        if getpass("Nhập lại mật khẩu: ") != password:
            print("Hai lần nhập mật khẩu không khớp.", file=sys.stderr)
            return 1
    try:
        agent = add_agent(args.name, password, args.display_name, "supervisor" if args.supervisor else "agent")
    except ValueError as exc:
        print(f"Không tạo được tài khoản: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - e.g. the name is taken
        print(f"Không tạo được tài khoản {args.name}: {exc.__class__.__name__}", file=sys.stderr)
        return 1
    print(f"Đã tạo tài khoản {agent.username} ({agent.display_name}, {agent.role}).")
    return 0


def _agents_list(_args: argparse.Namespace) -> int:
    from bot.takeover.agents import list_agents

    rows = list_agents()
    if not rows:
        print("Chưa có tài khoản tư vấn viên nào: python -m bot agents add TEN")
    for row in rows:
        state = "đang dùng" if row["active"] else "đã khóa"
        print(f"{row['username']:<20} {row['display_name']:<24} {row['role']:<10} {state}")
    return 0


def _agents_disable(args: argparse.Namespace) -> int:
    from bot.takeover.agents import set_active

    if not set_active(args.name, False):
        print(f"Không có tài khoản {args.name}.", file=sys.stderr)
        return 1
    print(f"Đã khóa tài khoản {args.name}; các phiên đăng nhập của tài khoản đã bị hủy.")
    return 0


def _zalo_login_url(args: argparse.Namespace) -> int:
    from connectors.zalo import cli_login_url  # the CLI is an entry point: it may reach the connectors

    return cli_login_url(args)


def _messenger_setup(args: argparse.Namespace) -> int:
    from connectors.messenger import cli_setup

    return cli_setup(args)


def _settings(_args: argparse.Namespace) -> int:
    for key, value in get_settings().redacted().items():
        print(f"{key.upper()}={value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Trợ lý chăm sóc khách hàng ngành điện")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=_db_upgrade)

    seed = sub.add_parser("seed", help="load demo data into an empty database")
    seed.add_argument("--force", action="store_true", help="seed even if customers exist")
    seed.set_defaults(func=_seed)

    imp = sub.add_parser("import", help="import a CSV file (one transaction)")
    imp.add_argument("kind", choices=["customers", "bills", "outages"])
    imp.add_argument("file")
    imp.set_defaults(func=_import)

    req = sub.add_parser("requests", help="service requests").add_subparsers(dest="req_command", required=True)
    lst = req.add_parser("list", help="latest requests")
    lst.add_argument("--limit", type=int, default=50)
    lst.set_defaults(func=_requests_list)

    run = sub.add_parser("run", help="start Rasa, the action server and the web app")
    run.add_argument("--no-setup", action="store_true", help="skip migrations and demo data")
    run.set_defaults(func=_run)

    agents = sub.add_parser("agents", help="agent console accounts").add_subparsers(dest="agents_command",
                                                                                     required=True)
    add = agents.add_parser("add", help="create an account (the password is asked for)")
    add.add_argument("name")
    add.add_argument("--display-name", help="name shown to customers (default: the account name)")
    add.add_argument("--supervisor", action="store_true", help="sees and may act on every conversation")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=_agents_add)
    agents.add_parser("list", help="list accounts").set_defaults(func=_agents_list)
    disable = agents.add_parser("disable", help="lock an account and end its sessions")
    disable.add_argument("name")
    disable.set_defaults(func=_agents_disable)

    zalo = sub.add_parser("zalo", help="Zalo OA channel").add_subparsers(dest="zalo_command", required=True)
    login = zalo.add_parser("login-url", help="print the OA permission URL (OAuth v4 with PKCE)")
    login.add_argument("--redirect-uri", help="callback URL registered in the Zalo app "
                                              "(default: PUBLIC_URL + /webhooks/zalo/oauth/callback)")
    login.set_defaults(func=_zalo_login_url)

    messenger = sub.add_parser("messenger", help="Facebook Messenger channel").add_subparsers(
        dest="messenger_command", required=True)
    messenger.add_parser("setup", help="set the page's Messenger profile (Get Started, greeting, menu, "
                                       "ice breakers)").set_defaults(func=_messenger_setup)

    sub.add_parser("settings", help="print settings (secrets masked)").set_defaults(func=_settings)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
