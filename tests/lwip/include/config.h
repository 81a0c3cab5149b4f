/* Empty: lwIP's unit tests include <config.h> (autotools projects put settings there). */
