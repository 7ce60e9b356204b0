"""Starts an IPython kernel inside the sandbox (used by `nbgrader_plugin.SandboxedKernelManager`).

Usage: python -I -m autograder.kernel -f CONNECTION_FILE
"""

import os

from autograder.sandbox import drop_privileges, limit_resources


def main():
    limit_resources()
    drop_privileges()  # before the kernel reads its connection file or runs a cell
    # A kernel without a parent process id prints "Ctrl-C will not work" into nbgrader's log;
    # 1 means "started by init": no notice and no parent poller (bubblewrap ends the kernel).
    os.environ["JPY_PARENT_PID"] = "1"
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
