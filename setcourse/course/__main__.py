"""``python -m setcourse.course build|check|reset``: see :mod:`setcourse.course.cli`."""
import sys

from .cli import main

sys.exit(main())
