"""Install Tally as a system service: the systemd units, the udev rules, the `tally` system user,
an example config (only if there is none) and the data directory. Safe to run again: files already in
place are left alone, and an operator's config is never overwritten.

    sudo tally install                      # then edit /etc/tally/tally.toml and: systemctl enable --now tally
    tally install --dry-run                 # print what it would do, change nothing
    tally install --root /tmp/stage         # put the files into a staging root (packaging, tests); no commands run
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: the unit's SupplementaryGroups (device access); they must exist or systemd refuses to start the unit
DEVICE_GROUPS = ("dialout", "input", "plugdev", "video")
USER = "tally"
UNIT_EXEC = "/usr/local/bin/tally"

SYSUSERS = f"""\
# Tally edge scanning gateway: its system user, and the device groups its unit names (installed by `tally install`).
u {USER} - "Tally edge scanning gateway" /var/lib/tally /usr/sbin/nologin
""" + "".join(f"g {group} -\n" for group in DEVICE_GROUPS)


class InstallError(Exception):
    pass


@dataclass(frozen=True)
class Item:
    """One file or directory to put in place, relative to the target root."""

    path: str
    mode: int
    content: bytes | None = None  # None: a directory
    group: str | None = None      # group owner on a real install (root owns everything)
    owner: str | None = None
    keep: bool = False            # never replace an existing one (the operator's config)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", metavar="DIR", help="install into this staging root instead of / (no commands run)")
    parser.add_argument("--dry-run", action="store_true", help="print what would be done, change nothing")
    parser.add_argument("--exec", dest="executable", metavar="PATH",
                        help="the tally program the units run (default: the one running this command)")


# ---- where the shipped files are ---------------------------------------------------------------

def _data_file(relative: str) -> Path:
    """A shipped file: from the source checkout, or from a wheel's data files (share/tally/...)."""
    here = Path(__file__).resolve()
    for base in (here.parents[2], Path(sys.prefix) / "share" / "tally"):
        candidate = base / relative
        if candidate.is_file():
            return candidate
    raise InstallError(f"cannot find {relative} (looked in the source tree and {sys.prefix}/share/tally)")


def tally_executable(explicit: str | None = None) -> str:
    """What ExecStart= runs: the tally next to this Python (a venv or /usr/local), else the one on PATH."""
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "tally"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("tally")
    if found:
        return str(Path(found).resolve())
    return f"{sys.executable} -m gateway"


def unit_text(name: str, executable: str) -> bytes:
    text = _data_file(f"systemd/{name}").read_text()
    if UNIT_EXEC not in text:
        raise InstallError(f"systemd/{name} has no ExecStart={UNIT_EXEC} to point at {executable}")
    return text.replace(UNIT_EXEC, executable, 1).encode()


def plan(executable: str) -> list[Item]:
    return [
        Item("etc/systemd/system/tally.service", 0o644, unit_text("tally.service", executable)),
        Item("etc/systemd/system/tally@.service", 0o644, unit_text("tally@.service", executable)),
        Item("etc/udev/rules.d/99-tally.rules", 0o644, _data_file("config/99-tally.rules").read_bytes()),
        Item("etc/sysusers.d/tally.conf", 0o644, SYSUSERS.encode()),
        # The service (user tally) reads its config; nobody else needs to (it may name key files).
        Item("etc/tally", 0o750, group=USER),
        Item("etc/tally/tally.toml", 0o640, _data_file("config/tally.toml").read_bytes(), group=USER, keep=True),
        Item("var/lib/tally", 0o750, owner=USER, group=USER),
    ]


# ---- doing it ------------------------------------------------------------------------------------

class Installer:
    def __init__(self, root: Path, dry_run: bool, real: bool):
        self.root = root
        self.dry_run = dry_run
        self.real = real  # installing into the running system: set owners, run the reload commands
        self.changed = 0

    def say(self, verb: str, path: str, note: str = "") -> None:
        prefix = "would " if self.dry_run and verb not in ("unchanged", "keep") else ""
        print(f"{prefix}{verb:9} /{path}" + (f"  ({note})" if note else ""))

    def target(self, item: Item) -> Path:
        return self.root / item.path

    def apply(self, item: Item) -> None:
        path = self.target(item)
        if item.content is None:
            self._directory(item, path)
        else:
            self._file(item, path)

    def _directory(self, item: Item, path: Path) -> None:
        if path.is_dir() and not path.is_symlink():
            if self.real and self._fix_owner(item, path):
                self.say("chown", item.path + "/", self._owners(item))
                self.changed += 1
            else:
                self.say("unchanged", item.path + "/")
            return
        if os.path.lexists(path):
            raise InstallError(f"/{item.path} exists and is not a directory; move it away first")
        self.say("create", item.path + "/", f"mode {item.mode:o}")
        self.changed += 1
        if not self.dry_run:
            path.mkdir(parents=True, mode=item.mode)
            os.chmod(path, item.mode)  # mkdir's mode is masked by the umask
            if self.real:
                self._fix_owner(item, path)

    def _file(self, item: Item, path: Path) -> None:
        assert item.content is not None
        if os.path.lexists(path):
            if item.keep:
                self.say("keep", item.path, "exists; an operator's config is never overwritten")
                return
            if path.is_symlink() or not path.is_file():
                raise InstallError(f"/{item.path} exists and is not a regular file; move it away first")
            if path.read_bytes() == item.content:
                if (path.stat().st_mode & 0o7777) != item.mode:
                    self.say("chmod", item.path, f"mode {item.mode:o}")
                    self.changed += 1
                    if not self.dry_run:
                        os.chmod(path, item.mode)
                else:
                    self.say("unchanged", item.path)
                return
            verb = "update"
        else:
            verb = "install"
        self.say(verb, item.path, f"mode {item.mode:o}")
        self.changed += 1
        if self.dry_run:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside and rename: a crash never leaves half a unit file or half a rule set.
        tmp = path.with_name(f".{path.name}.tally-install")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, item.mode)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(item.content)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, item.mode)
            if self.real:
                self._fix_owner(item, tmp)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @staticmethod
    def _owners(item: Item) -> str:
        return f"{item.owner or 'root'}:{item.group or 'root'}"

    def _fix_owner(self, item: Item, path: Path) -> bool:
        """chown to the item's owner/group; True if it needed (in a dry run: would need) a change."""
        import grp
        import pwd

        try:
            uid = pwd.getpwnam(item.owner).pw_uid if item.owner else 0
            gid = grp.getgrnam(item.group).gr_gid if item.group else 0
        except KeyError:
            if self.dry_run:
                return True  # the user is created by the real run
            raise InstallError(f"no user/group {self._owners(item)} for /{item.path}") from None
        st = path.lstat()
        if (st.st_uid, st.st_gid) == (uid, gid):
            return False
        if not self.dry_run:
            os.chown(path, uid, gid, follow_symlinks=False)
        return True

    # ---- commands on the running system ------------------------------------------------------

    def run(self, argv: list[str], why: str) -> None:
        print(f"{'would run' if self.dry_run else 'run':9} {shlex.join(argv)}  ({why})")
        if self.dry_run:
            return
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InstallError(f"{argv[0]} failed: {exc}") from None
        if result.returncode != 0:
            raise InstallError(f"{shlex.join(argv)} exited {result.returncode}: {result.stderr.strip()}")

    def ensure_user(self) -> None:
        """The tally user and the device groups: systemd-sysusers where there is one, else useradd."""
        import grp
        import pwd

        def exists(lookup, name: str) -> bool:
            try:
                lookup(name)
                return True
            except KeyError:
                return False

        missing_groups = [g for g in DEVICE_GROUPS if not exists(grp.getgrnam, g)]
        if exists(pwd.getpwnam, USER) and not missing_groups:
            print(f"{'unchanged':9} user {USER}, groups {' '.join(DEVICE_GROUPS)}")
            return
        sysusers = shutil.which("systemd-sysusers")
        if sysusers:
            lines = [line for line in SYSUSERS.splitlines() if line and not line.startswith("#")]
            self.run([sysusers, "--inline", *lines], "create the tally user and the device groups")
            return
        for group in missing_groups:
            self.run(["groupadd", "--system", group], "a device group the unit names")
        if not exists(pwd.getpwnam, USER):
            self.run(["useradd", "--system", "--user-group", "--home-dir", "/var/lib/tally", "--no-create-home",
                      "--shell", "/usr/sbin/nologin", "--comment", "Tally edge scanning gateway", USER],
                     "the service's own unprivileged user")

    def reload_managers(self) -> None:
        if shutil.which("systemctl") and Path("/run/systemd/system").is_dir():
            self.run(["systemctl", "daemon-reload"], "systemd reads the new unit")
        else:
            print(f"{'skip':9} systemctl daemon-reload  (systemd is not running here)")
        if shutil.which("udevadm") and Path("/run/udev/control").exists():
            self.run(["udevadm", "control", "--reload"], "udev reads the new rules")
            self.run(["udevadm", "trigger", "--action=add", "--subsystem-match=tty", "--subsystem-match=input",
                      "--subsystem-match=usb"], "apply them to devices already plugged in")
        else:
            print(f"{'skip':9} udevadm control --reload  (udev is not running here)")


def run(args: argparse.Namespace) -> int:
    staging = args.root is not None
    if not staging and not args.dry_run and os.geteuid() != 0:
        print("tally install: must run as root to install into the system (sudo tally install);\n"
              "  use --root DIR to put the files into a staging directory, or --dry-run to see what it would do",
              file=sys.stderr)
        return 1
    root = Path(args.root).resolve() if staging else Path("/")
    if staging and not root.is_dir():
        if args.dry_run:
            print(f"would create {root}/")
        else:
            root.mkdir(parents=True)
    executable = tally_executable(args.executable)
    installer = Installer(root, args.dry_run, real=not staging)
    try:
        items = plan(executable)
        if not staging:
            # The user and groups first: the files' owners and udev's GROUP= name them.
            installer.ensure_user()
        for item in items:
            installer.apply(item)
        if not staging:
            installer.reload_managers()
    except InstallError as exc:
        print(f"tally install: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"tally install: {exc.filename or ''}: {exc.strerror}", file=sys.stderr)
        return 1
    for home in ("/home/", "/root/", "/run/user/"):
        if executable.startswith(home):
            print(f"warning: the units run {executable}, but ProtectHome=yes hides {home} from the service: "
                  "install tally outside home directories (e.g. a venv in /opt/tally) and run this again",
                  file=sys.stderr)
    if args.dry_run:
        print("dry run: nothing changed")
    elif not staging:
        print("next: edit /etc/tally/tally.toml, check it with `tally check-config -c /etc/tally/tally.toml`, "
              "then `systemctl enable --now tally`")
    return 0
