from services.auditor.cli import main

main()
