"""``python -m ctensor <command>`` and the ``ctensor`` console script.

Both run the C command line (``ctensor doctor``, ``ctensor devices``,
``ctensor version``, ...). A wheel ships it inside the package as
``ctensor/ctensor-cli``; in the build tree it is ``build/ctensor``, two
folders above ``build/python/ctensor``. The program replaces this process
(``exec``), so its output and exit status are the program's own.

The folder of this interpreter is put first on ``PATH`` for the program, so
that ``ctensor doctor`` run from a virtual environment that is not
activated still inspects that environment (its frameworks and NVIDIA's
``nvidia-*`` wheels).
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


def cli_path():
    """The C command line this package runs, or None when there is none."""
    for candidate in (os.path.join(_HERE, "ctensor-cli"), os.path.join(_HERE, os.pardir, os.pardir, "ctensor")):
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.normpath(candidate)
    return None


def main(argv=None):
    args = sys.argv[1:] if argv is None else list(argv)
    cli = cli_path()
    if cli is None:
        sys.stderr.write("ctensor: the command-line program is missing: neither %s nor the build tree's "
                         "ctensor exists; reinstall the package (pip install --force-reinstall ctensor)\n"
                         % os.path.join(_HERE, "ctensor-cli"))
        return 2
    env = dict(os.environ)
    bindir = os.path.dirname(os.path.abspath(sys.executable))
    path = env.get("PATH", "")
    if bindir not in path.split(os.pathsep):
        env["PATH"] = bindir + (os.pathsep + path if path else "")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass
    # argv[0] is the full path: the CUDA loader's pip stage finds its own
    # folder through dladdr, which reports argv[0] for a static executable.
    os.execve(cli, [cli] + args, env)
    return 2  # not reached


if __name__ == "__main__":
    sys.exit(main())
