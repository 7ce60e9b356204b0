"""Starts an IPython kernel inside the sandbox (used by `nbgrader_plugin.SandboxedKernelManager`).

Usage: python -I -m autograder.kernel -f CONNECTION_FILE
"""

from autograder.sandbox import drop_privileges, limit_resources


def main():
    limit_resources()
    drop_privileges()  # before the kernel reads its connection file or runs a cell
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
