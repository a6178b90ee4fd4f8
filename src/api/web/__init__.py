"""The caseworkers' web pages in bokmål: a third edge beside the JSON API and the command line."""
