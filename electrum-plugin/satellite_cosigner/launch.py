"""What the launcher (`electrum-plugin/electrum-satellite`) does before Electrum starts.

Electrum 4.3.4's `Plugins.load_plugins` lists plug-ins with `pkgutil.iter_modules` on its own
package directory only, so a plug-in elsewhere on `electrum.plugins.__path__` imports but is
never offered. `install()` registers the plug-in's commands and wraps `load_plugins` (in memory,
for this process) so that it also describes this plug-in and loads it when the user enabled it
(`use_satellite_cosigner`), exactly as Electrum does for its own plug-ins.
Avoids: writing anything under Electrum's installed package.
"""

import sys

from electrum.plugin import Plugins

from . import commands

NAME = 'satellite_cosigner'


def _load_plugins_too(original):
    def load_plugins(self):
        original(self)
        module = sys.modules[__package__]
        d = module.__dict__
        if self.gui_name not in d.get('available_for', []):
            return
        self.descriptions[NAME] = d
        if self.config.get('use_' + NAME):
            try:
                self.load_plugin(NAME)
            except BaseException as e:
                self.logger.exception(f"cannot initialize plugin {NAME}: {e}")
    return load_plugins


def install() -> None:
    commands.register()
    if not getattr(Plugins.load_plugins, '_satellite', False):
        Plugins.load_plugins = _load_plugins_too(Plugins.load_plugins)
        Plugins.load_plugins._satellite = True
