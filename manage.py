#!/usr/bin/env python
import os
import sys


def main():
    from marketingai.envfile import load_env_file

    try:
        load_env_file()
    except (OSError, ValueError) as exc:  # a bad settings file: say which line, no traceback
        sys.exit(f"marketingai: {exc}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketingai.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
