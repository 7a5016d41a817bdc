"""One module per command; each is `async def run(deps: Deps, ask: Ask) -> None`."""
