"""Starts an IPython kernel inside the sandbox (used by `autograder.nbgrader_plugin`'s
`SandboxedKernelManager`, through `autograder.isolation.sandbox.inside_command`).

Usage: python -I inside_sandbox/kernel.py -f CONNECTION_FILE
"""

import os

from inside_sandbox.limits import drop_privileges, limit_resources


def main() -> None:
    limit_resources()
    drop_privileges()  # before the kernel reads its connection file or runs a cell
    # A kernel without a parent process id prints "Ctrl-C will not work" into nbgrader's log;
    # 1 means "started by init": no notice and no parent poller (bubblewrap ends the kernel).
    os.environ["JPY_PARENT_PID"] = "1"
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
