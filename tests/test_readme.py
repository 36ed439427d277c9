"""The README's set-up commands are what CI runs."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_ci_runs_the_readme_test_command():
    readme = open(os.path.join(ROOT, "README.md")).read()
    commands = re.findall(r"```bash\n(pip install -e [^\n]*)\n```", readme)
    test_command = next(c for c in commands if "tests.run" in c)
    install, pytest_command = (part.strip() for part in test_command.split("&&"))
    ci = [line.split("#")[0].strip() for line in
          open(os.path.join(ROOT, ".ci", "run")).read().splitlines()]
    assert install in ci and pytest_command in ci, (install, pytest_command)
