"""The auditors' command line: verify chains, trace a cadre or a correlation id, replay, export."""
import warnings

# Importing nameko imports eventlet, which warns on stderr that it is deprecated: nothing an auditor can act on.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from services.auditor.cli import main  # noqa: E402  (after the filter, which must precede the import that warns)

main()
