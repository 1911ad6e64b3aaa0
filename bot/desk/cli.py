"""`python -m bot desk …`: run the desk, create and manage agents, reassign a ticket.

    python -m bot desk                 # = run: serve on FRONTLINE_DESK_PORT (5006)
    python -m bot desk run
    python -m bot desk add-agent NAME --skills a,b [--senior] [--capacity N] [--role agent|supervisor|admin]
    python -m bot desk agents          # list agents
    python -m bot desk simulate --days 28 [--per-day 120] [--handoff-share 0.3] [--seed 1]
                                       # fill a fresh desk with simulated traffic (bot/desk/simulate.py)
    python -m bot desk disable-agent NAME     # its tokens stop at once, its open tickets go back to the queue
    python -m bot desk enable-agent NAME
    python -m bot desk reset-password NAME    # prints a new one-time password; its sessions end
    python -m bot desk set-role NAME ROLE
    python -m bot desk reassign TICKET (--agent NAME | --queue)
    python -m bot desk set-grade TICKET GRADE
    python -m bot desk resolve TICKET         # the closing line and the survey, then the assistant resumes
    python -m bot desk handback TICKET        # the assistant resumes (Rasa must be reachable for both)

Whoever may run these on the desk's database may do what a supervisor and an admin may; each is recorded in the
audit log as `cli:<user>` from address `cli` (`bot.desk.audit`).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
from typing import Any, Dict, List, Optional

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the desk's subcommands to an argparse parser."""
    commands = parser.add_subparsers(dest="desk_command")
    commands.add_parser("run", help="serve the desk (the default)")
    add = commands.add_parser("add-agent", help="create an agent; prints its one-time password")
    add.add_argument("name")
    add.add_argument("--skills", default="general", help="comma-separated skills, e.g. orders,general")
    add.add_argument("--senior", action="store_true", help="may take repeat complaints")
    add.add_argument("--capacity", type=int, default=None, help="concurrent tickets (desk.default_capacity)")
    add.add_argument("--password", default=None, help="initial password (random when omitted)")
    add.add_argument("--role", default="agent", help="agent (the default), supervisor or admin")
    commands.add_parser("agents", help="list agents")
    simulate = commands.add_parser("simulate", help="fill a fresh desk with marked simulated traffic")
    simulate.add_argument("--days", type=int, default=28, help="days of history up to now (default 28)")
    simulate.add_argument("--per-day", type=float, default=120.0, help="conversations on an average day (120)")
    simulate.add_argument("--handoff-share", type=float, default=0.3, help="share handed to a human (0.3)")
    simulate.add_argument("--seed", type=int, default=1, help="the same seed gives the same traffic")
    for command, text in (("disable-agent", "disable an agent: tokens stop at once, open tickets back to the queue"),
                          ("enable-agent", "enable a disabled agent"),
                          ("reset-password", "give an agent a new one-time password and end its sessions")):
        commands.add_parser(command, help=text).add_argument("name")
    role = commands.add_parser("set-role", help="give an agent a role")
    role.add_argument("name")
    role.add_argument("role", help="agent, supervisor or admin")
    reassign = commands.add_parser("reassign", help="give a ticket to an agent or back to its queue")
    reassign.add_argument("ticket", help="the ticket's id, e.g. T-000123")
    target = reassign.add_mutually_exclusive_group(required=True)
    target.add_argument("--agent", help="the agent who gets it")
    target.add_argument("--queue", action="store_true", help="back to its skill queue")
    grade = commands.add_parser("set-grade", help="change an open ticket's grade (its resolution due time follows)")
    grade.add_argument("ticket", help="the ticket's id, e.g. T-000123")
    grade.add_argument("grade", help="A, B or C")
    for command, text in (("resolve", "resolve any open ticket (survey, then the assistant resumes)"),
                          ("handback", "hand any open ticket back to the assistant")):
        commands.add_parser(command, help=text).add_argument("ticket", help="the ticket's id, e.g. T-000123")


def main(args: argparse.Namespace) -> int:
    """Run a parsed `desk` command; return the exit status."""
    command = getattr(args, "desk_command", None) or "run"
    if command == "run":
        from bot.desk.app import run

        run()
        return 0

    from bot.desk import config
    from bot.desk.store import Store

    store = Store(config.database_url())
    store.migrate()
    try:
        if command == "add-agent":
            return _add_agent(store, args)
        if command == "simulate":
            from bot.desk import simulate
            from bot.desk.sim_client import DeskRefused

            plan = simulate.Plan(days=args.days, per_day=args.per_day, handoff_share=args.handoff_share, seed=args.seed)
            try:
                stored = simulate.run(store, config.load(), plan)
            except simulate.SimulationError as error:
                print(f"error: {error}", file=sys.stderr)
                return 2
            except DeskRefused as error:
                print(f"error: the simulation stopped: {error}", file=sys.stderr)
                return 1
            print(json.dumps({"simulated": stored}, ensure_ascii=False))
            return 0
        if command == "agents":
            for agent in store.list_agents():
                senior = " senior" if agent.senior else ""
                disabled = " disabled" if not agent.enabled else ""
                print(f"{agent.name}\trole={agent.role.value}\tskills={','.join(agent.skills)}"
                      f"\tcapacity={agent.capacity}{senior}{disabled}")
            return 0
        return _supervise(store, command, args)
    finally:
        store.close()


def _add_agent(store: Any, args: argparse.Namespace) -> int:
    from bot import clock
    from bot.desk import auth, config, roles
    from bot.desk.audit import Action, AuditLog

    settings = config.load()
    try:
        skills = auth.parse_skills(args.skills)
        role = roles.parse_role(args.role)
        capacity = args.capacity or settings.default_capacity
        if capacity < 1:
            raise auth.AuthError("--capacity must be at least 1")
        # No API token: the one-time password is all the operator hands over (`auth.create_agent`).
        agent, _token, password = auth.create_agent(
            store, args.name, skills, args.senior, capacity, clock.now().timestamp(), args.password, role=role,
            with_token=False,
        )
    except auth.AuthError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    AuditLog(store).record(_actor(), Action.CREATE_AGENT, "cli", target=agent.name, role=agent.role.value)
    print(f"agent: {agent.name}")
    print(f"role: {agent.role.value}")
    print(f"skills: {','.join(agent.skills)}")
    print(f"senior: {'yes' if agent.senior else 'no'}")
    print(f"capacity: {agent.capacity}")
    print(f"password: {password}")
    return 0


def _supervise(store: Any, command: str, args: argparse.Namespace) -> int:
    """The supervisors' commands, through the same `bot.desk.supervision` the API calls."""
    from bot.desk import config, roles
    from bot.desk.audit import Action
    from bot.desk.errors import DeskError
    from bot.desk.rasa_client import RasaClient
    from bot.desk.service import Desk

    settings = config.load()
    rasa = RasaClient(config.rasa_url(), config.rasa_token(), timeout=settings.rasa_timeout_seconds)
    desk = Desk(store, settings, rasa)
    supervision = desk.supervision
    try:
        if command == "disable-agent":
            answer: Dict[str, Any] = supervision.disable(args.name, None)
            action, ticket, target, detail = Action.DISABLE, None, args.name, {}
        elif command == "enable-agent":
            answer = supervision.enable(args.name, None)
            action, ticket, target, detail = Action.ENABLE, None, args.name, {}
        elif command == "reset-password":
            answer = supervision.reset_password(args.name, None)
            action, ticket, target, detail = Action.RESET_PASSWORD, None, args.name, {}
        elif command == "set-role":
            role = roles.parse_role(args.role)
            answer = supervision.set_role(args.name, role, None)
            action, ticket, target, detail = Action.SET_ROLE, None, args.name, {"role": role.value}
        elif command == "reassign":
            body = {"queue": True} if args.queue else {"agent": args.agent}
            answer = asyncio.run(_reassign(desk, args.ticket, body))
            action, ticket, target, detail = Action.REASSIGN, answer["id"], args.agent, {"queue": bool(args.queue)}
        elif command == "set-grade":
            answer = supervision.set_grade(args.ticket, None, {"grade": args.grade})
            action, ticket, target, detail = Action.GRADE, answer["id"], None, {"grade": args.grade}
        elif command in ("resolve", "handback"):
            answer = asyncio.run(_close(desk, command, args.ticket))
            action = Action.RESOLVE if command == "resolve" else Action.HANDBACK
            ticket, target, detail = answer["id"], None, {}
        else:
            return 2
    except (DeskError, ValueError) as error:
        print(f"error: {getattr(error, 'message', error)}", file=sys.stderr)
        return 1
    desk.audit.record(_actor(), action, "cli", ticket, target, **detail)
    _print(command, answer)
    return 0


async def _reassign(desk: Any, code: str, body: Dict[str, Any]) -> Dict[str, Any]:
    try:
        return await desk.supervision.reassign(code, None, body)
    finally:
        await desk.rasa.close()


async def _close(desk: Any, command: str, code: str) -> Dict[str, Any]:
    """Resolve or hand back as a supervisor would (any open ticket), as the command line."""
    from bot.desk.records import Agent, Role

    supervisor = Agent(id=0, name=_actor(), skills=(), senior=True, capacity=0, must_change_password=False,
                       created_at=0.0, role=Role.SUPERVISOR)
    try:
        close = desk.tickets.resolve if command == "resolve" else desk.tickets.handback
        return await close(code, supervisor)
    finally:
        await desk.rasa.close()


def _print(command: str, answer: Dict[str, Any]) -> None:
    if command in ("reassign", "set-grade", "resolve", "handback"):
        print(f"ticket: {answer['id']}")
        print(f"status: {answer['status']}")
        print(f"assignee: {answer['assignee'] or '-'}")
        if command == "set-grade":
            print(f"grade: {answer['grade']}")
        return
    for key, value in answer.items():
        shown = ",".join(value) if isinstance(value, list) else ("yes" if value is True else "no" if value is False else value)
        print(f"{key}: {shown}")


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in this environment (a container without one)
        return "cli"


def cli(argv: Optional[List[str]] = None) -> int:
    """Parse `argv` as the desk's own command line and run it."""
    parser = argparse.ArgumentParser(prog="python -m bot desk")
    add_arguments(parser)
    return main(parser.parse_args(argv))
