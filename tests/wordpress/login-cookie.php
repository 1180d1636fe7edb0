<?php
/*
 * Test stack only: logs a WordPress user in the way wp_signon() does (a session token in
 * the user's session_tokens, and the logged_in cookie for it), without a password, and
 * prints the cookie as "NAME=VALUE". With "two-factor", the session also carries the mark
 * the Two Factor plugin leaves once a login passed a second factor ("two-factor-login",
 * see Two_Factor_Core::update_current_user_session), which this stack does not install.
 *
 *   php login-cookie.php CONFIG_NAME HOST USER_ID [two-factor]
 */

ini_set( 'display_errors', 'stderr' );
if ( PHP_SAPI !== 'cli' || $argc < 4 ) {
	fwrite( STDERR, "usage: php login-cookie.php CONFIG_NAME HOST USER_ID [two-factor]\n" );
	exit( 2 );
}
list( , $config_name, $host, $user_id ) = $argv;
$two_factor = isset( $argv[4] ) && 'two-factor' === $argv[4];

// What nginx passes to PHP-FPM (as deploy/local/wordpress-install.php does).
$_SERVER['WORDPRESS_CONFIG'] = $config_name;
$_SERVER['HTTP_HOST']        = $host;
$_SERVER['REQUEST_URI']      = '/';
$_SERVER['SERVER_NAME']      = preg_replace( '/:.*/', '', $host );
$_SERVER['SERVER_PORT']      = preg_match( '/:(\d+)$/', $host, $m ) ? $m[1] : '80';

require '/usr/share/wordpress/wp-load.php';

$user = get_userdata( (int) $user_id );
if ( ! $user ) {
	fwrite( STDERR, "no WordPress user $user_id\n" );
	exit( 1 );
}
$expiration = time() + DAY_IN_SECONDS;
$manager    = WP_Session_Tokens::get_instance( $user->ID );
$token      = $manager->create( $expiration );
if ( $two_factor ) {
	$session                       = $manager->get( $token );
	$session['two-factor-provider'] = 'Two_Factor_Totp';
	$session['two-factor-login']    = time();
	$manager->update( $token, $session );
}
echo LOGGED_IN_COOKIE, '=', wp_generate_auth_cookie( $user->ID, $expiration, 'logged_in', $token ), "\n";
