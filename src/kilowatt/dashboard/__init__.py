"""The operator dashboard and the driver web app: static pages served by Kilowatt itself."""
