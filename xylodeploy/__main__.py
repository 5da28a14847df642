from xylodeploy.cli import main

main(prog_name="xylodeploy")
