<?php
/*
 * Installs the local/test stack's WordPress without a browser (Debian has no WP-CLI
 * package), and makes sure its administrator has a working application password.
 * Run by deploy/local/common.sh (wordpress_install) as:
 *
 *   php wordpress-install.php CONFIG_NAME HOST TITLE ADMIN_LOGIN ADMIN_EMAIL
 *
 * stdin: the administrator's password, then the application password saved by an
 * earlier run (an empty line if none). stdout: LOGIN:APPLICATION_PASSWORD, the saved
 * one when it still works, otherwise a new one. Progress goes to stderr.
 * Idempotent: an installed site is left as it is.
 */

ini_set( 'display_errors', 'stderr' );
if ( PHP_SAPI !== 'cli' || $argc !== 6 ) {
	fwrite( STDERR, "usage: php wordpress-install.php CONFIG_NAME HOST TITLE ADMIN_LOGIN ADMIN_EMAIL\n" );
	exit( 2 );
}
list( , $config_name, $host, $title, $admin_login, $admin_email ) = $argv;
$admin_password = rtrim( (string) fgets( STDIN ), "\r\n" );
$saved_app_password = rtrim( (string) fgets( STDIN ), "\r\n" );
if ( '' === $admin_password ) {
	fwrite( STDERR, "no administrator password on stdin\n" );
	exit( 2 );
}

// What nginx passes to PHP-FPM: Debian's wp-config.php picks the site's configuration
// from WORDPRESS_CONFIG (or the host name).
$_SERVER['WORDPRESS_CONFIG'] = $config_name;
$_SERVER['HTTP_HOST']        = $host;
$_SERVER['REQUEST_URI']      = '/';
$_SERVER['SERVER_NAME']      = preg_replace( '/:.*/', '', $host );
$_SERVER['SERVER_PORT']      = preg_match( '/:(\d+)$/', $host, $m ) ? $m[1] : '80';

function say( $message ) {
	fwrite( STDERR, "wordpress: $message\n" );
}

define( 'WP_INSTALLING', true );
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';

// The outbox exists before wp_install() creates the administrator (whose creation it
// records) and before the scripts grant cartgate's account access to it.
if ( ! function_exists( 'Cartgate\\create_outbox' ) || ! Cartgate\create_outbox() ) {
	say( 'the cartgate must-use plugin is not loaded, or cannot create its outbox' );
	exit( 1 );
}

if ( ! is_blog_installed() ) {
	say( "installing \"$title\"" );
	$result = wp_install( $title, $admin_login, $admin_email, false, '', $admin_password );
	if ( empty( $result['user_id'] ) ) {
		say( 'wp_install failed' );
		exit( 1 );
	}
	// Pretty permalinks: /wp-json/… reaches the REST API (nginx sends it to index.php).
	global $wp_rewrite;
	$wp_rewrite->set_permalink_structure( '/%postname%/' );
	$wp_rewrite->flush_rules( false );
}

$admin = get_user_by( 'login', $admin_login );
if ( ! $admin ) {
	say( "creating the administrator $admin_login" );
	$id = wp_insert_user(
		array(
			'user_login' => $admin_login,
			'user_email' => $admin_email,
			'user_pass'  => $admin_password,
			'role'       => 'administrator',
		)
	);
	if ( is_wp_error( $id ) ) {
		say( $id->get_error_message() );
		exit( 1 );
	}
	$admin = get_user_by( 'id', $id );
}

$app_name = 'cartgate ' . $config_name;
if ( '' !== $saved_app_password ) {
	foreach ( WP_Application_Passwords::get_user_application_passwords( $admin->ID ) as $item ) {
		if ( $item['name'] === $app_name && wp_check_password( $saved_app_password, $item['password'], $admin->ID ) ) {
			echo $admin->user_login, ':', $saved_app_password, "\n";
			exit( 0 );
		}
	}
}
foreach ( WP_Application_Passwords::get_user_application_passwords( $admin->ID ) as $item ) {
	if ( $item['name'] === $app_name ) {
		WP_Application_Passwords::delete_application_password( $admin->ID, $item['uuid'] );
	}
}
$created = WP_Application_Passwords::create_new_application_password( $admin->ID, array( 'name' => $app_name ) );
if ( is_wp_error( $created ) ) {
	say( $created->get_error_message() );
	exit( 1 );
}
say( "new application password \"$app_name\" for $admin_login" );
echo $admin->user_login, ':', $created[0], "\n";
